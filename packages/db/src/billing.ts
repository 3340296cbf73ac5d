import { ApiError, newId, settledCostMicros } from '@reelay/core';
import type { Db } from './client';
import { insertTaskBatched, insertTaskReserving, type NewTask, type VideoRow } from './hot-path';
import type { Prisma, Task } from './generated/prisma/client';

type Tx = Prisma.TransactionClient;

/**
 * Creates of one key queue on its row lock, each holding a pooled connection meanwhile: allow a
 * busy burst more than Prisma's default 2 s to get a connection and finish.
 */
export const MONEY_TX_OPTIONS = { maxWait: 15_000, timeout: 30_000 } as const;

/** Seconds a client is told to wait when its key's queue is full. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 5;

/**
 * Creates a task and reserves its estimated cost against the key's budget: in the key's batch
 * statement (insertTaskBatched), else alone in one statement (insertTaskReserving), else, for a key
 * with a queue limit, in the transaction below. Each locks the key row, so concurrent creates of
 * one key see each other's reservations and queued tasks (FOR NO KEY UPDATE, the mode of the UPDATE that follows: FOR UPDATE would also
 * conflict with the key-share locks that ledger inserts take through their foreign key, and
 * deadlock with a task being closed): a full queue is a 429 concurrency_limit_exceeded, an exhausted budget a 429
 * insufficient_quota, and in both cases no task exists.
 */
export async function createTaskWithReservation(
  db: Db,
  data: Prisma.TaskUncheckedCreateInput & { reservedMicros: bigint; priceMicrosPerSecond: bigint },
): Promise<VideoRow> {
  // The common case (no queue limit on the key, budget left) joins the turn's batch; a create the
  // batch did not take is decided alone: one statement, or the transaction for a queue limit.
  const row: NewTask = { ...(data as NewTask), billingStatus: 'reserved' };
  const batched = await insertTaskBatched(db, row, newId('led'));
  if (batched) return batched;
  const fast = await retryOnDeadlock(() => insertTaskReserving(db, row, data.reservedMicros, newId('led')));
  if (fast.task) return fast.task;
  if (!fast.key || fast.key.status !== 'active') throw new ApiError(401, 'invalid_api_key', 'Invalid API key');
  if (fast.key.maxQueued === null) throw insufficientQuota(data.reservedMicros, fast.key.budgetMicros!, fast.key.committedMicros);
  return db.$transaction(async (tx) => {
    const [key] = await tx.$queryRaw<{ status: string; max_queued: number | null; budget_micros: bigint | null; committed_micros: bigint }[]>`
      SELECT status, max_queued, budget_micros, committed_micros FROM api_keys WHERE id = ${data.apiKeyId} FOR NO KEY UPDATE`;
    if (!key || key.status !== 'active') throw new ApiError(401, 'invalid_api_key', 'Invalid API key');
    if (key.max_queued !== null) {
      const queued = await tx.task.count({ where: { apiKeyId: data.apiKeyId, status: 'pending', deletedAt: null } });
      if (queued >= key.max_queued) {
        throw new ApiError(
          429,
          'concurrency_limit_exceeded',
          `This API key already has ${queued} queued tasks, its limit (max queued ${key.max_queued}); retry when some have started`,
          null,
          { 'retry-after': String(QUEUE_FULL_RETRY_AFTER_SECONDS) },
        );
      }
    }
    const reserve = data.reservedMicros;
    if (key.budget_micros !== null && key.committed_micros + reserve > key.budget_micros) {
      throw insufficientQuota(reserve, key.budget_micros, key.committed_micros);
    }
    const task = await tx.task.create({ data: { ...data, billingStatus: 'reserved' } });
    await tx.ledgerEntry.create({ data: { id: newId('led'), apiKeyId: data.apiKeyId, taskId: task.id, kind: 'reserve', amountMicros: reserve } });
    await tx.apiKey.update({ where: { id: data.apiKeyId }, data: { committedMicros: { increment: reserve } } });
    return task;
  }, MONEY_TX_OPTIONS);
}

/**
 * A create's statement is atomic, so one that Postgres chose as a deadlock's victim (40P01: it
 * held its key's row lock while waiting on a task row that a worker transaction holding that row
 * wants to follow with the key) left nothing behind and runs again.
 */
async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || i >= attempts) throw err;
    }
  }
}

function insufficientQuota(reserve: bigint, budget: bigint, committed: bigint): ApiError {
  const left = budget - committed;
  return new ApiError(
    429,
    'insufficient_quota',
    `This request is estimated at ${reserve} micro-units but the API key has ${left < 0n ? 0n : left} of its budget left`,
  );
}

/**
 * Takes back a create that could not be announced (Redis unreachable): the task row, its
 * reservation and the reservation's ledger row go together, as if the create never happened.
 * Only a task that has not started can be taken back.
 */
export async function discardUnstartedTask(db: Db, taskId: string): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const [row] = await tx.$queryRaw<{ api_key_id: string; reserved_micros: bigint; billing_status: string }[]>`
      DELETE FROM tasks WHERE id = ${taskId} AND status = 'pending' AND upstream_id IS NULL
      RETURNING api_key_id, reserved_micros, billing_status::text`;
    if (!row) return false;
    if (row.billing_status === 'reserved') {
      await tx.ledgerEntry.deleteMany({ where: { taskId, kind: 'reserve' } });
      await tx.apiKey.update({ where: { id: row.api_key_id }, data: { committedMicros: { decrement: row.reserved_micros } } });
    }
    return true;
  }, MONEY_TX_OPTIONS);
}

/**
 * Closes a task's reservation exactly once: on completion the estimate is released and what was
 * produced is charged; otherwise the estimate is only released. Guarded by billing_status (only
 * one caller moves it off `reserved`) and by the ledger's unique (task, kind).
 */
export async function closeBilling(tx: Tx, taskId: string, outcome: { completed: true; producedSeconds: number | null } | { completed: false }): Promise<void> {
  const [row] = await tx.$queryRaw<{ api_key_id: string; reserved_micros: bigint; price_micros_per_second: bigint }[]>`
    SELECT api_key_id, reserved_micros, price_micros_per_second FROM tasks WHERE id = ${taskId} AND billing_status = 'reserved' FOR UPDATE`;
  if (!row) return;
  const reserved = row.reserved_micros;
  const charge = outcome.completed ? settledCostMicros(row.price_micros_per_second, reserved, outcome.producedSeconds) : 0n;
  await tx.task.update({
    where: { id: taskId },
    data: outcome.completed ? { billingStatus: 'settled', costMicros: charge } : { billingStatus: 'released' },
  });
  await tx.ledgerEntry.create({ data: { id: newId('led'), apiKeyId: row.api_key_id, taskId, kind: 'release', amountMicros: -reserved } });
  if (outcome.completed) {
    await tx.ledgerEntry.create({ data: { id: newId('led'), apiKeyId: row.api_key_id, taskId, kind: 'charge', amountMicros: charge } });
  }
  await tx.apiKey.update({ where: { id: row.api_key_id }, data: { committedMicros: { increment: charge - reserved } } });
}

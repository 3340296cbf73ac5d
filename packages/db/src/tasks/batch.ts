import { newId, timeSlicer, type TaskErrorCode } from '@reelay/core';
import type { PoolClient } from 'pg';
import { poolOf, type Db } from '../client';
import { definedColumns, snake, toRecord, typeParsers } from '../pg';
import { MONEY_TX_OPTIONS } from '../billing';
import type { Task } from '../generated/prisma/client';
import type { NewReservedTask } from './create';

/**
 * Rows per INSERT statement: 50,000 lines are 50 round trips.
 */
const INSERT_CHUNK = 1000;
/** Longest stretch of row encoding between two turns of the worker's event loop. */
const ENCODE_SLICE_MS = 1;

/** Batches at least this big refresh the planner's statistics of tasks before their rows show. */
const ANALYZE_AFTER_ROWS = 1000;

/**
 * ANALYZE inside the creating transaction (it samples the transaction's own rows), so the
 * statistics of `tasks` count the batch from the moment its rows are visible: autovacuum analyzes
 * later, or never when it is off, and admission planned for a table of a few rows walked every
 * waiting task. Best effort: statistics not refreshed (a vacuum holding the table) must not
 * fail the batch.
 */
async function analyzeTasks(client: PoolClient): Promise<void> {
  await client.query('SAVEPOINT analyze_tasks');
  try {
    await client.query(`SET LOCAL lock_timeout = '2s'`);
    await client.query('ANALYZE tasks');
    await client.query('RELEASE SAVEPOINT analyze_tasks');
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT analyze_tasks');
  }
}

export type BatchCreateOutcome =
  | { created: number; refused?: undefined }
  | {
      created?: undefined;
      refused: { reason: 'inactive_key' } | { reason: 'over_budget'; reservedMicros: bigint; leftMicros: bigint } | { reason: 'batch_moved' };
    };

/**
 * Creates every task of a batch, or none: in one transaction the key row is locked, the whole
 * batch's estimate is checked against the budget and reserved at once, the tasks and their
 * reserve-ledger rows are inserted with multi-row statements, and the batch moves
 * validating → in_progress. A batch cancelled meanwhile (no longer validating) creates nothing.
 * Every task must set the same columns (they share one statement).
 */
export async function insertBatchTasks(db: Db, apiKeyId: string, batchId: string, tasks: NewReservedTask[]): Promise<BatchCreateOutcome> {
  const total = tasks.reduce((sum, t) => sum + t.reservedMicros, 0n);
  const client = await poolOf(db).connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '${MONEY_TX_OPTIONS.timeout}ms'`);
    const key = await client.query({
      text: 'SELECT status::text, budget_micros, committed_micros FROM api_keys WHERE id = $1 FOR NO KEY UPDATE',
      values: [apiKeyId],
      types: typeParsers,
    });
    const owner = key.rows[0] as { status: string; budget_micros: bigint | null; committed_micros: bigint } | undefined;
    if (!owner || owner.status !== 'active') {
      await client.query('ROLLBACK');
      return { refused: { reason: 'inactive_key' } };
    }
    if (owner.budget_micros !== null && owner.committed_micros + total > owner.budget_micros) {
      await client.query('ROLLBACK');
      const left = owner.budget_micros - owner.committed_micros;
      return { refused: { reason: 'over_budget', reservedMicros: total, leftMicros: left < 0n ? 0n : left } };
    }
    const moved = await client.query(
      `UPDATE batches SET status = 'in_progress', in_progress_at = now(), request_total = $2 WHERE id = $1 AND status = 'validating'`,
      [batchId, tasks.length],
    );
    if (moved.rowCount !== 1) {
      await client.query('ROLLBACK');
      return { refused: { reason: 'batch_moved' } };
    }
    if (tasks.length > 0) {
      const columns = definedColumns({ ...tasks[0]!, billingStatus: 'reserved' });
      const cols = columns.map((k) => `"${snake(k)}"`).join(', ');
      const insertTasks = `INSERT INTO tasks (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::tasks, $1::json)`;
      // Building a chunk's JSON is the worker's CPU: in short slices, so its other work runs between them.
      const slice = timeSlicer(ENCODE_SLICE_MS);
      for (let i = 0; i < tasks.length; i += INSERT_CHUNK) {
        const chunk = tasks.slice(i, i + INSERT_CHUNK);
        const rows: string[] = [];
        for (const t of chunk) {
          rows.push(JSON.stringify(toRecord({ ...t, billingStatus: 'reserved' })));
          await slice();
        }
        await client.query(insertTasks, [`[${rows.join(',')}]`]);
        await client.query(
          `INSERT INTO ledger_entries (id, api_key_id, task_id, kind, amount_micros)
           SELECT l.id, $1, l.task_id, 'reserve', l.amount FROM unnest($2::text[], $3::text[], $4::bigint[]) AS l(id, task_id, amount)`,
          [apiKeyId, chunk.map(() => newId('led')), chunk.map((t) => t.id), chunk.map((t) => t.reservedMicros.toString())],
        );
      }
      await client.query('UPDATE api_keys SET committed_micros = committed_micros + $2, updated_at = now() WHERE id = $1', [apiKeyId, total.toString()]);
      if (tasks.length >= ANALYZE_AFTER_ROWS) await analyzeTasks(client);
    }
    await client.query('COMMIT');
    return { created: tasks.length };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Ends a batch's tasks that were never admitted (no job, no upstream work) in one transaction:
 * failed with `code`, their reservations released with one ledger row each. Returns how many.
 * A plain UPDATE (it locks its rows and re-checks them if an admitter got there first): an
 * `id IN (SELECT … FOR UPDATE)` form was planned as a nested loop over a freshly inserted batch
 * whose statistics say one row, and took minutes for 50,000 tasks.
 */
export async function failWaitingBatchTasks(db: Db, batchId: string, code: TaskErrorCode, message: string): Promise<number> {
  const client = await poolOf(db).connect();
  try {
    await client.query('BEGIN');
    const res = await client.query({
      text: `UPDATE tasks SET status = 'failed', error_code = $2, error_message = $3, completed_at = now(), updated_at = now(),
               billing_status = CASE WHEN billing_status = 'reserved' THEN 'released'::"BillingStatus" ELSE billing_status END
             WHERE batch_id = $1 AND status = 'pending' AND admitted_at IS NULL
             RETURNING id, api_key_id, reserved_micros`,
      values: [batchId, code, message],
      types: typeParsers,
    });
    const rows = res.rows as { id: string; api_key_id: string; reserved_micros: bigint }[];
    if (rows.length > 0) {
      await client.query(
        `INSERT INTO ledger_entries (id, api_key_id, task_id, kind, amount_micros)
         SELECT l.id, l.key, l.task_id, 'release', -l.amount FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS l(id, key, task_id, amount)`,
        [rows.map(() => newId('led')), rows.map((r) => r.api_key_id), rows.map((r) => r.id), rows.map((r) => r.reserved_micros.toString())],
      );
      const sum = rows.reduce((s, r) => s + r.reserved_micros, 0n);
      await client.query('UPDATE api_keys SET committed_micros = committed_micros - $2, updated_at = now() WHERE id = $1', [
        rows[0]!.api_key_id,
        sum.toString(),
      ]);
    }
    await client.query('COMMIT');
    return rows.length;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Ids of a batch's tasks that hold a slot (admitted or processing): they end through the normal cancel path. */
export async function findRunningBatchTaskIds(db: Db, batchId: string): Promise<string[]> {
  const rows = await db.task.findMany({ where: { batchId, status: { in: ['pending', 'processing'] } }, select: { id: true } });
  return rows.map((r) => r.id);
}

export type BatchTaskRow = Pick<
  Task,
  | 'id'
  | 'apiKeyId'
  | 'model'
  | 'provider'
  | 'status'
  | 'progress'
  | 'prompt'
  | 'durationSeconds'
  | 'width'
  | 'height'
  | 'fps'
  | 'seed'
  | 'n'
  | 'responseFormat'
  | 'user'
  | 'metadata'
  | 'errorCode'
  | 'errorMessage'
  | 'createdAt'
  | 'completedAt'
  | 'expiresAt'
  | 'deletedAt'
  | 'filesDeletedAt'
  | 'remixedFromId'
  | 'costMicros'
  | 'customId'
  | 'batchLine'
  | 'requestId'
>;

/** One page of a batch's tasks in line order (the output file is written from these). */
export function batchTasksPage(db: Db, batchId: string, afterLine: number, limit: number): Promise<BatchTaskRow[]> {
  return db.task.findMany({
    where: { batchId, batchLine: { gt: afterLine } },
    orderBy: { batchLine: 'asc' },
    take: limit,
    select: {
      id: true,
      apiKeyId: true,
      model: true,
      provider: true,
      status: true,
      progress: true,
      prompt: true,
      durationSeconds: true,
      width: true,
      height: true,
      fps: true,
      seed: true,
      n: true,
      responseFormat: true,
      user: true,
      metadata: true,
      errorCode: true,
      errorMessage: true,
      createdAt: true,
      completedAt: true,
      expiresAt: true,
      deletedAt: true,
      filesDeletedAt: true,
      remixedFromId: true,
      costMicros: true,
      customId: true,
      batchLine: true,
      requestId: true,
    },
  });
}

/** Which batch a task belongs to, if any (a task that ends nudges its batch). */
export async function batchOfTask(db: Db, taskId: string): Promise<string | null> {
  const row = await db.task.findUnique({ where: { id: taskId }, select: { batchId: true } });
  return row?.batchId ?? null;
}

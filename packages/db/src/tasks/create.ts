import type { Pool, PoolClient } from 'pg';
import { poolOf, type Db } from '../client';
import { Prisma, type Task } from '../generated/prisma/client';
import { definedColumns, fromRow, nextTurn, snake, statement, toParam, toRecord, typeParsers } from '../pg';
import { videoColumnList, type NewTask, type VideoRow } from './columns';
import { MONEY_TX_OPTIONS } from '../billing';

/** Why a create was not taken; the API turns each into its HTTP answer. */
export type CreateRefusal =
  | { reason: 'inactive_key' }
  | { reason: 'queue_full'; queued: number; maxQueued: number }
  | { reason: 'over_budget'; reservedMicros: bigint; leftMicros: bigint };
export type CreateOutcome = { task: VideoRow; refused?: undefined } | { task?: undefined; refused: CreateRefusal };

export type NewReservedTask = NewTask & { reservedMicros: bigint; priceMicrosPerSecond: bigint };

/**
 * Creates a task and reserves its estimated cost against the key's budget, or says why not.
 *
 * The rule lives in one statement (`reserveStatement` below): lock the key row (FOR NO KEY UPDATE
 * sees its latest version: FOR UPDATE would also conflict with the key-share locks that ledger
 * inserts take through their foreign key, and deadlock with a task being closed), accept creates in
 * arrival order while the running total of their reservations fits the budget, raise
 * committed_micros once, insert the task and reserve-ledger rows. Creates of one key are batched
 * per event-loop turn into that statement (one round trip and one commit for all of them). A key
 * with a queue limit runs the same statement inside a transaction that first counts its queue
 * under the lock (a count taken in the statement itself would see the snapshot from before the
 * lock). A refused create leaves nothing behind. A duplicate Idempotency-Key surfaces as pg's
 * unique violation (23505) for that create alone.
 */
export async function createTask(db: Db, task: NewReservedTask, ledgerId: string): Promise<CreateOutcome> {
  const data: NewReservedTask = { ...task, billingStatus: 'reserved' };
  const first = await joinKeyBatch(db, { data, ledgerId });
  if (first.kind === 'made') return { task: first.task };
  if (first.kind === 'queue_limited') return createQueueLimited(db, { data, ledgerId });
  if (first.kind === 'refused' && first.alone) return { refused: first.refused };
  // Over budget behind others of its batch, or its batch failed as a whole: decide it alone.
  const alone = await runReserve(poolOf(db), data.apiKeyId, [{ data, ledgerId }], false).then((r) => r.get(data.id)!);
  if (alone.kind === 'made') return { task: alone.task };
  if (alone.kind === 'queue_limited') return createQueueLimited(db, { data, ledgerId });
  if (alone.kind === 'refused') return { refused: alone.refused };
  throw alone.error;
}

interface PendingCreate {
  data: NewReservedTask;
  ledgerId: string;
}
type ReserveResult =
  | { kind: 'made'; task: VideoRow }
  | { kind: 'refused'; refused: CreateRefusal; alone: boolean }
  | { kind: 'queue_limited' }
  | { kind: 'failed'; error: unknown };

/**
 * Per key: the creates waiting for the next statement. The first create of a key waits for the end
 * of the turn, and while a key's statement runs its next creates gather for the one after (a second
 * statement sent meanwhile would only wait on the key's row lock). DataLoader cannot hold a batch
 * back until the previous one ends, hence these few lines.
 */
const CREATE_BATCH_MAX = 100;
const lanes = new WeakMap<Db, Map<string, (PendingCreate & { done: (r: ReserveResult) => void })[]>>();

function joinKeyBatch(db: Db, create: PendingCreate): Promise<ReserveResult> {
  let byKey = lanes.get(db);
  if (!byKey) lanes.set(db, (byKey = new Map()));
  const key = create.data.apiKeyId;
  return new Promise((done) => {
    const waiting = byKey.get(key);
    if (waiting) return void waiting.push({ ...create, done });
    byKey.set(key, [{ ...create, done }]);
    nextTurn(() => void drainLane(db, byKey, key));
  });
}

async function drainLane(db: Db, byKey: Map<string, (PendingCreate & { done: (r: ReserveResult) => void })[]>, key: string): Promise<void> {
  const waiting = byKey.get(key)!;
  while (waiting.length > 0) {
    const batch = waiting.splice(0, CREATE_BATCH_MAX);
    // Every create gets an answer, whatever happens, or its request would hang.
    const results = await runReserve(poolOf(db), key, batch, false).catch(
      (error: unknown) => new Map(batch.map((c) => [c.data.id, { kind: 'failed', error } as const])),
    );
    for (const c of batch) c.done(results.get(c.data.id) ?? { kind: 'failed', error: new Error('create was not answered') });
  }
  byKey.delete(key);
}

/** The reserve statement for one column set (a column left out takes its default), built once per set. */
const reserveStatements = new Map<string, { name: string; text: string }>();
function reserveStatement(columns: string[]): { name: string; text: string } {
  const signature = columns.join();
  let s = reserveStatements.get(signature);
  if (s) return s;
  const cols = columns.map((k) => `"${snake(k)}"`).join(', ');
  // $5: the caller counted the key's queue under the lock already (a key with max_queued).
  s = statement(`WITH input AS (
        SELECT r.ordinality AS ord, r.* FROM json_populate_recordset(NULL::tasks, $1::json) WITH ORDINALITY AS r
      ), owner AS (
        SELECT status, max_queued, budget_micros, committed_micros FROM api_keys WHERE id = $2 FOR NO KEY UPDATE
      ), accepted AS (
        SELECT i.* FROM (SELECT i.*, sum(i.reserved_micros) OVER (ORDER BY i.ord) AS running FROM input i WHERE i.api_key_id = $2) i, owner k
        WHERE k.status = 'active' AND (k.max_queued IS NULL OR $5::boolean)
          AND (k.budget_micros IS NULL OR k.committed_micros + i.running <= k.budget_micros)
      ), reserved AS (
        UPDATE api_keys SET committed_micros = committed_micros + (SELECT sum(reserved_micros) FROM accepted), updated_at = now()
        WHERE id = $2 AND EXISTS (SELECT 1 FROM accepted)
      ), ins AS (
        INSERT INTO tasks (${cols}) SELECT ${cols} FROM accepted ORDER BY ord
        RETURNING tasks.*
      ), ledger AS (
        INSERT INTO ledger_entries (id, api_key_id, task_id, kind, amount_micros)
        SELECT l.ledger_id, ins.api_key_id, ins.id, 'reserve', ins.reserved_micros
        FROM ins JOIN unnest($3::text[], $4::text[]) AS l(task_id, ledger_id) ON l.task_id = ins.id
      )
      SELECT o.status::text AS owner_status, o.max_queued AS owner_max_queued, o.budget_micros AS owner_budget_micros,
        o.committed_micros AS owner_committed_micros, ${videoColumnList('ins.')}
      FROM owner o LEFT JOIN ins ON true`);
  reserveStatements.set(signature, s);
  return s;
}

type Queryable = Pool | PoolClient;

/** Runs the reserve statement for one key's creates (one statement per column set) and says what became of each. */
async function runReserve(client: Queryable, key: string, creates: PendingCreate[], queueChecked: boolean): Promise<Map<string, ReserveResult>> {
  const groups = new Map<string, { columns: string[]; creates: PendingCreate[] }>();
  for (const c of creates) {
    const columns = definedColumns(c.data);
    const group = groups.get(columns.join());
    if (group) group.creates.push(c);
    else groups.set(columns.join(), { columns, creates: [c] });
  }
  const results = new Map<string, ReserveResult>();
  for (const { columns, creates: group } of groups.values()) {
    try {
      const res = await client.query({
        ...reserveStatement(columns),
        values: [JSON.stringify(group.map((c) => toRecord(c.data))), key, group.map((c) => c.data.id), group.map((c) => c.ledgerId), queueChecked],
        types: typeParsers,
      });
      const owner = res.rows[0] as Record<string, unknown> | undefined;
      for (const row of res.rows) if (row.id) results.set(row.id as string, { kind: 'made', task: videoRowOf(row) });
      let reservedBefore = 0n;
      for (const c of group) {
        if (results.has(c.data.id)) {
          reservedBefore += c.data.reservedMicros;
          continue;
        }
        results.set(c.data.id, refusalOf(owner, c.data.reservedMicros, reservedBefore, group.length === 1, queueChecked));
      }
    } catch (error) {
      // Nothing of a failed statement stays; the caller decides each of its creates alone.
      for (const c of group) results.set(c.data.id, { kind: 'failed', error });
    }
  }
  return results;
}

function videoRowOf(row: Record<string, unknown>): VideoRow {
  const { owner_status: _s, owner_max_queued: _q, owner_budget_micros: _b, owner_committed_micros: _c, ...video } = row;
  return video as unknown as VideoRow;
}

function refusalOf(
  owner: Record<string, unknown> | undefined,
  reservedMicros: bigint,
  reservedBefore: bigint,
  alone: boolean,
  queueChecked: boolean,
): ReserveResult {
  if (!owner || owner.owner_status !== 'active') return { kind: 'refused', refused: { reason: 'inactive_key' }, alone: true };
  if (owner.owner_max_queued !== null && !queueChecked) return { kind: 'queue_limited' };
  const budget = owner.owner_budget_micros as bigint;
  const left = budget - (owner.owner_committed_micros as bigint) - reservedBefore;
  return { kind: 'refused', refused: { reason: 'over_budget', reservedMicros, leftMicros: left < 0n ? 0n : left }, alone };
}

/** A key with a queue limit: count its queue under the key's lock, then the same reserve statement. */
async function createQueueLimited(db: Db, create: PendingCreate): Promise<CreateOutcome> {
  const client = await poolOf(db).connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL lock_timeout = '${MONEY_TX_OPTIONS.timeout}ms'`);
    // Two statements: a count in the locking statement would read the snapshot taken before the lock.
    const locked = await client.query<{ max_queued: number | null }>('SELECT max_queued FROM api_keys WHERE id = $1 FOR NO KEY UPDATE', [create.data.apiKeyId]);
    const maxQueued = locked.rows[0]?.max_queued ?? null;
    if (maxQueued !== null) {
      const counted = await client.query<{ queued: number }>(
        // Batch tasks are bounded by their batch's line limit and do not fill the interactive queue.
        `SELECT count(*)::int AS queued FROM tasks WHERE api_key_id = $1 AND status = 'pending' AND deleted_at IS NULL AND batch_id IS NULL`,
        [create.data.apiKeyId],
      );
      const queued = counted.rows[0]!.queued;
      if (queued >= maxQueued) {
        await client.query('ROLLBACK');
        return { refused: { reason: 'queue_full', queued, maxQueued } };
      }
    }
    const result = (await runReserve(client, create.data.apiKeyId, [create], true)).get(create.data.id)!;
    if (result.kind === 'failed') throw result.error;
    await client.query(result.kind === 'made' ? 'COMMIT' : 'ROLLBACK');
    if (result.kind === 'made') return { task: result.task };
    if (result.kind === 'refused') return { refused: result.refused };
    return { refused: { reason: 'inactive_key' } };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** One INSERT … RETURNING *, with no reservation (fixtures and tools). A unique violation surfaces as pg's error 23505. */
export async function insertTask(db: Db, data: NewTask): Promise<Task> {
  const keys = definedColumns(data);
  const text = `INSERT INTO tasks (${keys.map((k) => `"${snake(k)}"`).join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`;
  const res = await poolOf(db).query({ ...statement(text), values: keys.map((k) => toParam(data[k as keyof NewTask])) });
  return fromRow<Task>(res.rows[0]!);
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

/** True for the unique-index violation a concurrent duplicate hits on (api_key_id, idempotency_key). */
export function isIdempotencyKeyRace(err: unknown): boolean {
  if (err instanceof Prisma.PrismaClientKnownRequestError) return err.code === 'P2002';
  const pg = err as { code?: string; constraint?: string };
  return pg.code === '23505' && pg.constraint === 'tasks_api_key_id_idempotency_key_key';
}

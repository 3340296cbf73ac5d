import { createHash } from 'node:crypto';
import DataLoader from 'dataloader';
import { types as pgTypes, type QueryResultRow } from 'pg';
import { poolOf, type Db } from './client';
import type { OutputVariant, Task, TaskStatus } from './generated/prisma/client';
import { newId } from '@reelay/core';

/**
 * The queries on the hot paths (the API's create, one statement per key and batch, and retrieve, one
 * indexed read; the worker's read and write of a task on every poll) go to the pg pool directly:
 * Prisma 7's query layer costs about four times the CPU of the query itself (measured: ~450 µs vs
 * ~120 µs per read), which decides create/retrieve throughput. Rows come back in exactly the shape
 * Prisma returns (camelCase, Date, bigint), so callers cannot tell.
 */
const TIMESTAMP = 1114; // timestamp without time zone: Prisma stores UTC wall time
const INT8 = 20;
/**
 * Postgres's text form of a timestamp ('2026-01-02 03:04:05.678') as UTC, read field by field: a
 * row has a dozen of them and Date's string parser was most of a row's parse time. Anything else
 * (infinity, years before 1000 or after 9999) goes the slow way.
 */
function parseTimestamp(s: string): Date {
  if (s.length >= 19 && s.length <= 26 && s.charCodeAt(4) === 45 && s.charCodeAt(10) === 32 && s.charCodeAt(0) !== 48) {
    const ms = s.length > 20 ? Number(s.slice(20, 23).padEnd(3, '0')) : 0;
    return new Date(Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10), +s.slice(11, 13), +s.slice(14, 16), +s.slice(17, 19), ms));
  }
  return new Date(`${s.replace(' ', 'T')}Z`);
}
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMP) return parseTimestamp;
    if (oid === INT8) return (s: string) => BigInt(s);
    return pgTypes.getTypeParser(oid, format as 'text');
  },
};

const camelNames = new Map<string, string>();
const camel = (s: string): string => {
  let c = camelNames.get(s);
  if (c === undefined) camelNames.set(s, (c = s.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase())));
  return c;
};
const snakeNames = new Map<string, string>();
const snake = (s: string): string => {
  let c = snakeNames.get(s);
  if (c === undefined) snakeNames.set(s, (c = s.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)));
  return c;
};

function toTask(row: QueryResultRow): Task {
  const out: Record<string, unknown> = {};
  for (const k in row) out[camel(k)] = row[k];
  return out as Task;
}

function toParam(v: unknown): unknown {
  // An ISO string is UTC wall time; Postgres drops the zone when the column has none, as Prisma does.
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
}

/** Batches collect the calls of one event-loop turn. */
const nextTurn = (run: () => void) => setImmediate(run);

/** The fields of a new task that are set (an omitted or undefined one takes its column's default). */
const definedColumns = (data: NewTask): string[] => Object.keys(data).filter((k) => data[k as keyof NewTask] !== undefined);

/** A row for json_populate_record: snake_case names; dates and bigints as toParam writes them; objects (metadata) stay nested JSON for their jsonb column. */
function toRecord(data: NewTask): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const k in data) {
    const v = data[k as keyof NewTask];
    if (v !== undefined) record[snake(k)] = v instanceof Date || typeof v === 'bigint' ? toParam(v) : v;
  }
  return record;
}

/** A prepared-statement name per query text, so Postgres parses and plans each shape once per connection. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) statementNames.set(text, (name = `reelay_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`));
  return name;
}
/**
 * Reads a task as its owner sees it: another key's or a deleted task does not exist. Batched with
 * the other reads of the same event-loop turn (see the loaders below), then filtered by owner.
 */
export async function findTaskForOwner(db: Db, id: string, apiKeyId: string): Promise<Task | null> {
  const task = await loadersOf(db).tasks.load(id);
  return task && task.apiKeyId === apiKeyId && task.deletedAt === null ? task : null;
}

/**
 * The columns a video object is made from (and whose task it is). A retrieve and a create read only
 * these, named as Prisma names them: the other twenty-odd columns (worker bookkeeping) cost as much
 * again to send and parse.
 */
export const VIDEO_COLUMNS = [
  'id', 'apiKeyId', 'model', 'provider', 'status', 'progress', 'prompt', 'durationSeconds', 'width', 'height', 'fps', 'seed', 'n',
  'responseFormat', 'user', 'metadata', 'errorCode', 'errorMessage', 'createdAt', 'completedAt', 'expiresAt', 'deletedAt',
  'filesDeletedAt', 'remixedFromId', 'costMicros',
] as const satisfies readonly (keyof Task)[];
export type VideoRow = Pick<Task, (typeof VIDEO_COLUMNS)[number]>;
const videoColumnList = (table: string): string => VIDEO_COLUMNS.map((c) => `${table}"${snake(c)}" AS "${c}"`).join(', ');

/** findTaskForOwner for showing the video: the same batched, owner-filtered read of VIDEO_COLUMNS only. */
export async function findVideoForOwner(db: Db, id: string, apiKeyId: string): Promise<VideoRow | null> {
  const video = await loadersOf(db).videos.load(id);
  return video && video.apiKeyId === apiKeyId && video.deletedAt === null ? video : null;
}

/** Columns a new task is created with (camelCase, as in the Prisma model); omitted ones take their defaults. */
export type NewTask = Partial<Task> & Pick<Task, 'id' | 'apiKeyId' | 'model' | 'provider' | 'durationSeconds' | 'width' | 'height' | 'fps' | 'seed' | 'expiresAt'>;

/** One INSERT … RETURNING *. A unique violation surfaces as pg's error (code 23505, with its constraint). */
export async function insertTask(db: Db, data: NewTask): Promise<Task> {
  const keys = definedColumns(data);
  const text = `INSERT INTO tasks (${keys.map((k) => `"${snake(k)}"`).join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`;
  const res = await poolOf(db).query({
    name: statementName(text),
    text,
    values: keys.map((k) => toParam(data[k as keyof NewTask])),
    types: typeParsers,
  });
  return toTask(res.rows[0]!);
}

/** The task when one was made, and the key as read alongside (unlocked: only to explain a refusal). */
export interface ReservingInsert {
  key: { status: string; maxQueued: number | null; budgetMicros: bigint | null; committedMicros: bigint } | null;
  task: Task | null;
}

/**
 * A create with its cost reserved, in ONE statement (so one round trip and one commit): raise the
 * key's committed amount if it is active, has no queue limit and has the budget left (the UPDATE
 * takes the key's row lock and re-checks on the latest row), insert the task and the reservation's
 * ledger row. The key row is held only for the statement, so creates of one key are not serialised
 * on a multi-round-trip transaction. Keys with a queue limit are not handled here (counting the
 * queue needs a snapshot taken after the lock, i.e. a second statement): `key.maxQueued` tells the
 * caller to use the transaction. `key` is read without the lock and serves only to explain a refusal.
 * The row's values go in as one JSON record typed by the table (json_populate_record), so each
 * parameter gets its column's type.
 */
export async function insertTaskReserving(db: Db, data: NewTask, reservedMicros: bigint, ledgerId: string): Promise<ReservingInsert> {
  const cols = definedColumns(data).map((k) => `"${snake(k)}"`);
  const record = toRecord(data);
  const text = `WITH reserved AS (
      UPDATE api_keys SET committed_micros = committed_micros + $3::bigint, updated_at = now()
      WHERE id = $1 AND status = 'active' AND max_queued IS NULL
        AND (budget_micros IS NULL OR committed_micros + $3::bigint <= budget_micros)
      RETURNING id
    ), ins AS (
      INSERT INTO tasks (${cols.join(', ')})
      SELECT ${cols.map((c) => `r.${c}`).join(', ')} FROM json_populate_record(NULL::tasks, $2::json) r, reserved
      RETURNING *
    ), ledger AS (
      INSERT INTO ledger_entries (id, api_key_id, task_id, kind, amount_micros) SELECT $4, api_key_id, id, 'reserve', $3::bigint FROM ins
    ), k AS (
      SELECT status::text AS key_status, max_queued, budget_micros, committed_micros FROM api_keys WHERE id = $1
    )
    SELECT k.key_status AS reserve_key_status, k.max_queued AS reserve_max_queued, k.budget_micros AS reserve_budget_micros,
      k.committed_micros AS reserve_committed_micros, ins.*
    FROM k LEFT JOIN ins ON true`;
  const res = await poolOf(db).query({
    name: statementName(text),
    text,
    values: [data.apiKeyId, JSON.stringify(record), reservedMicros.toString(), ledgerId],
    types: typeParsers,
  });
  const row = res.rows[0];
  if (!row) return { key: null, task: null };
  const { reserve_key_status, reserve_max_queued, reserve_budget_micros, reserve_committed_micros, ...task } = row;
  return {
    key: { status: reserve_key_status, maxQueued: reserve_max_queued, budgetMicros: reserve_budget_micros, committedMicros: reserve_committed_micros },
    task: task.id ? toTask(task) : null,
  };
}

/**
 * Creates are batched per API key: the first create of a key waits for the end of the event-loop
 * turn, and while a key's statement runs, its next creates gather for the one after. Each statement
 * takes the key's row lock and commits once for all of its creates. With one statement per create,
 * a key's creates queued behind one another's WAL flushes on that lock, each paying its own round
 * trip, plan and result parse; a second statement sent while the first runs would only wait on the
 * lock too. DataLoader (used below) cannot hold a batch back until the previous one ends, hence
 * these few lines.
 *
 * The statement locks the key (FOR NO KEY UPDATE sees its latest row), then accepts creates in
 * arrival order while the running total of their reservations fits the budget; for those it raises
 * committed_micros once and inserts the task and reserve ledger rows. A key that is not active or
 * has a queue limit accepts none. Whatever is not accepted, or a statement that fails as a whole (a
 * duplicate Idempotency-Key, say), resolves to null: the caller then decides that create alone.
 */
const CREATE_BATCH_MAX = 100;

interface WaitingCreate {
  data: NewTask;
  ledgerId: string;
  done: (task: VideoRow | null) => void;
}

/** Per key: the creates waiting for the next statement. A key has a lane while any are waiting or running. */
const lanes = new WeakMap<Db, Map<string, WaitingCreate[]>>();

export function insertTaskBatched(db: Db, data: NewTask, ledgerId: string): Promise<VideoRow | null> {
  let byKey = lanes.get(db);
  if (!byKey) lanes.set(db, (byKey = new Map()));
  const key = data.apiKeyId;
  return new Promise((done) => {
    const waiting = byKey.get(key);
    if (waiting) return void waiting.push({ data, ledgerId, done });
    byKey.set(key, [{ data, ledgerId, done }]);
    nextTurn(() => void drainLane(db, byKey, key));
  });
}

async function drainLane(db: Db, byKey: Map<string, WaitingCreate[]>, key: string): Promise<void> {
  const waiting = byKey.get(key)!;
  while (waiting.length > 0) {
    const batch = waiting.splice(0, CREATE_BATCH_MAX);
    // Every create gets an answer, whatever happens, or its request would hang.
    const made = await insertKeyBatch(db, key, batch).catch(() => new Map<string, VideoRow>());
    for (const c of batch) c.done(made.get(c.data.id) ?? null);
  }
  byKey.delete(key);
}

/** The batch statement for one column set, built once per set. */
const batchStatements = new Map<string, { name: string; text: string }>();
function batchStatement(columns: string[]): { name: string; text: string } {
  const signature = columns.join();
  let statement = batchStatements.get(signature);
  if (statement) return statement;
  const cols = columns.map((k) => `"${snake(k)}"`).join(', ');
  const text = `WITH input AS (
        SELECT r.ordinality AS ord, r.* FROM json_populate_recordset(NULL::tasks, $1::json) WITH ORDINALITY AS r
      ), owner AS (
        SELECT status, max_queued, budget_micros, committed_micros FROM api_keys WHERE id = $2 FOR NO KEY UPDATE
      ), accepted AS (
        SELECT i.* FROM (SELECT i.*, sum(i.reserved_micros) OVER (ORDER BY i.ord) AS running FROM input i WHERE i.api_key_id = $2) i, owner k
        WHERE k.status = 'active' AND k.max_queued IS NULL AND (k.budget_micros IS NULL OR k.committed_micros + i.running <= k.budget_micros)
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
      SELECT ${videoColumnList('ins.')} FROM ins`;
  batchStatements.set(signature, (statement = { name: statementName(text), text }));
  return statement;
}

/** One statement per column set (a column left out takes its default, so rows without it cannot share the INSERT); never throws. */
async function insertKeyBatch(db: Db, key: string, batch: WaitingCreate[]): Promise<Map<string, VideoRow>> {
  const groups = new Map<string, { columns: string[]; creates: WaitingCreate[] }>();
  for (const c of batch) {
    const columns = definedColumns(c.data);
    const signature = columns.join();
    const group = groups.get(signature);
    if (group) group.creates.push(c);
    else groups.set(signature, { columns, creates: [c] });
  }
  const made = new Map<string, VideoRow>();
  for (const { columns, creates } of groups.values()) {
    const { name, text } = batchStatement(columns);
    try {
      const res = await poolOf(db).query({
        name,
        text,
        values: [JSON.stringify(creates.map((c) => toRecord(c.data))), key, creates.map((c) => c.data.id), creates.map((c) => c.ledgerId)],
        types: typeParsers,
      });
      for (const row of res.rows) made.set(row.id as string, row as VideoRow);
    } catch {
      // Nothing of a failed statement stays; each of its creates is then tried on its own.
    }
  }
  return made;
}

/**
 * The worker's per-poll read and write are batched: calls made in the same turn of the event loop
 * (a busy worker has dozens of polls in flight) go to Postgres as one statement. On this kind of
 * machine a query's socket write and wake-up cost more than the query itself, so fewer, larger
 * statements are what lets one worker carry tens of thousands of tasks. DataLoader does the
 * collecting (a well-kept library, the same pattern Prisma uses for findUnique).
 */
const MAX_BATCH = 500;

interface PollRecord {
  id: string;
  failed: boolean;
  nextPollAt: Date;
  progress: number;
}

const FIND_BY_IDS = 'SELECT * FROM tasks WHERE id = ANY($1::text[])';
const FIND_BY_IDS_NAME = statementName(FIND_BY_IDS);
const FIND_VIDEOS_BY_IDS = `SELECT ${videoColumnList('')} FROM tasks WHERE id = ANY($1::text[])`;
const FIND_VIDEOS_BY_IDS_NAME = statementName(FIND_VIDEOS_BY_IDS);
// Progress only rises and stays below 100 until the task completes (as raiseProgress).
const RECORD_POLLS = `UPDATE tasks t SET
    poll_count = t.poll_count + CASE WHEN v.failed THEN 0 ELSE 1 END,
    poll_errors = CASE WHEN v.failed THEN t.poll_errors + 1 ELSE 0 END,
    next_poll_at = v.next_poll_at,
    progress = GREATEST(t.progress, v.progress),
    updated_at = now()
  FROM unnest($1::text[], $2::boolean[], $3::timestamp[], $4::int[]) AS v(id, failed, next_poll_at, progress)
  WHERE t.id = v.id AND t.status = 'processing'`;
const RECORD_POLLS_NAME = statementName(RECORD_POLLS);

/**
 * A batch statement that fails is tried again key by key, so one request's bad value fails only
 * that request, never the neighbours that happened to share its event-loop turn.
 */
function isolating<K, V>(batch: (keys: readonly K[]) => Promise<V[]>): (keys: readonly K[]) => Promise<(V | Error)[]> {
  return async (keys) => {
    try {
      return await batch(keys);
    } catch (err) {
      if (keys.length === 1) return [asError(err)];
      return Promise.all(keys.map((k) => batch([k]).then((r) => r[0]!, asError)));
    }
  };
}

/**
 * The error as an Error of this realm (DataLoader tells failures from values by instanceof Error),
 * with its code and other fields kept so callers can still tell what failed. An error made in
 * another realm (a vm context, as under jest) would otherwise pass as a value.
 */
function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (typeof e !== 'object' || e === null) return new Error(String(e));
  return Object.assign(new Error(String((e as { message?: unknown }).message ?? e)), e);
}

interface Loaders {
  tasks: DataLoader<string, Task | null>;
  videos: DataLoader<string, VideoRow | null>;
  polls: DataLoader<PollRecord, void>;
}
const loaders = new WeakMap<Db, Loaders>();

function loadersOf(db: Db): Loaders {
  let l = loaders.get(db);
  if (l) return l;
  const pool = poolOf(db);
  l = {
    tasks: new DataLoader<string, Task | null>(
      isolating(async (ids) => {
        const res = await pool.query({ name: FIND_BY_IDS_NAME, text: FIND_BY_IDS, values: [[...new Set(ids)]], types: typeParsers });
        const byId = new Map(res.rows.map((r) => [r.id as string, r]));
        return ids.map((id) => (byId.has(id) ? toTask(byId.get(id)!) : null));
      }),
      { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: nextTurn },
    ),
    videos: new DataLoader<string, VideoRow | null>(
      isolating(async (ids) => {
        const res = await pool.query({ name: FIND_VIDEOS_BY_IDS_NAME, text: FIND_VIDEOS_BY_IDS, values: [[...new Set(ids)]], types: typeParsers });
        const byId = new Map(res.rows.map((r) => [r.id as string, r as VideoRow]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
      { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: nextTurn },
    ),
    polls: new DataLoader<PollRecord, void>(
      isolating(async (records) => {
        // One row per task: a second record for a task in the same batch replaces the first.
        const last = new Map(records.map((r) => [r.id, r]));
        const rows = [...last.values()];
        await pool.query({
          name: RECORD_POLLS_NAME,
          text: RECORD_POLLS,
          values: [rows.map((r) => r.id), rows.map((r) => r.failed), rows.map((r) => r.nextPollAt.toISOString()), rows.map((r) => r.progress)],
        });
        return records.map(() => undefined);
      }),
      { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: nextTurn },
    ),
  };
  loaders.set(db, l);
  return l;
}

/** Reads a task by id whatever its owner or state (the worker's read before each step). */
export function findTaskById(db: Db, id: string): Promise<Task | null> {
  return loadersOf(db).tasks.load(id);
}

/** Records one poll of a processing task (or one failed attempt at it) and when the next one is due. */
export function recordPoll(db: Db, id: string, poll: { failed: boolean; nextPollAt: Date; progress?: number }): Promise<void> {
  const progress = poll.progress === undefined ? 0 : Math.max(0, Math.min(99, Math.floor(poll.progress)));
  return loadersOf(db).polls.load({ id, failed: poll.failed, nextPollAt: poll.nextPollAt, progress });
}

export interface OutputRecord {
  index: number;
  variant: OutputVariant;
  storageKey: string;
  bytes: number;
  contentType: string;
  checksum: string;
}

/** Records a task's stored outputs in one statement; a retried finalize overwrites (unique per index and variant). */
export async function recordTaskOutputs(db: Db, taskId: string, outputs: OutputRecord[]): Promise<void> {
  if (outputs.length === 0) return;
  const values: unknown[] = [];
  const rows = outputs.map((o) => {
    values.push(newId('out'), taskId, o.index, o.variant, o.storageKey, String(o.bytes), o.contentType, o.checksum);
    const n = values.length;
    return `($${n - 7}, $${n - 6}, $${n - 5}, $${n - 4}::"OutputVariant", $${n - 3}, $${n - 2}::bigint, $${n - 1}, $${n})`;
  });
  await poolOf(db).query(
    `INSERT INTO task_outputs (id, task_id, index, variant, storage_key, bytes, content_type, checksum) VALUES ${rows.join(', ')}
     ON CONFLICT (task_id, index, variant) DO UPDATE SET storage_key = EXCLUDED.storage_key, bytes = EXCLUDED.bytes,
       content_type = EXCLUDED.content_type, checksum = EXCLUDED.checksum`,
    values,
  );
}

/** What announcing a task's end needs: its outcome, and where its webhooks go. */
export interface TaskEnd {
  model: string;
  provider: string;
  status: TaskStatus;
  errorCode: string | null;
  callbackUrl: string | null;
  deletedAt: Date | null;
  webhookUrl: string | null;
}
const TASK_END = `SELECT t.model, t.provider, t.status, t.error_code, t.callback_url, t.deleted_at, k.webhook_url
  FROM tasks t JOIN api_keys k ON k.id = t.api_key_id WHERE t.id = $1`;
const TASK_END_NAME = statementName(TASK_END);

export async function findTaskEnd(db: Db, id: string): Promise<TaskEnd | null> {
  const res = await poolOf(db).query({ name: TASK_END_NAME, text: TASK_END, values: [id], types: typeParsers });
  return res.rows[0] ? (toTask(res.rows[0]) as unknown as TaskEnd) : null;
}

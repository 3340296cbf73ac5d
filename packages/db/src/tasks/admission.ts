import { poolOf, type Db } from '../client';
import { holdsSlotSql, waitingSql } from './phase-sql';

/** One admitter at a time across every worker process (pg advisory lock number). */
const ADMISSION_LOCK = 72707370;
/** Tasks one run admits at most (one statement, one addBulk). */
export const ADMISSION_MAX_PER_RUN = 1000;

export interface AdmittedTask {
  id: string;
  api_key_id: string;
  request_id: string | null;
  /** What the task is, for its job's name on the queue dashboard. */
  model: string;
  key_name: string;
  prompt_start: string | null;
  /** Made from a batch line: its job is queued at a lower priority than interactive ones. */
  batch: boolean;
}

/**
 * Gives waiting tasks their slots, fairly. A task stays `pending` (costing no worker capacity)
 * until admitted; a task holds a slot from admission until it ends, counted straight from task
 * state, so a crashed worker cannot leak one: its task is still live and is resumed by another.
 *
 * Keys take turns: in each round every key with work waiting gets one task, the key that has
 * waited longest since its last admission (api_keys.last_admitted_at) first; a key stops at its
 * max_concurrent and a provider at its REELAY_PROVIDER_CONCURRENCY limit. So a key with thousands
 * queued gets one slot per round, like any other key with work waiting. The rounds are computed
 * in one statement (a task's round is its place in its key's queue), so a run admitting hundreds
 * of tasks costs a handful of round trips. All state is in Postgres; jobs are only queued after
 * the commit, and the reconciler re-queues admitted tasks whose job went missing. Only tasks created
 * under this worker's queue prefix are admitted (they are served from its queue) and provider
 * slots are counted per prefix; a key's limit counts all its live tasks.
 *
 * Batch tasks yield to interactive ones: within a key's queue its interactive tasks come first,
 * and in a run every interactive candidate (of any key) is placed before any batch candidate,
 * so a key's slots and a provider's slots go to interactive work first whenever both wait.
 * `maxBatchPerRun` caps the batch tasks of one run (the caller keeps few batch jobs queued).
 */
export async function admitWaitingTasks(
  db: Db,
  opts: { queuePrefix: string; providerLimits: Record<string, number>; maxPerRun?: number; maxBatchPerRun?: number },
): Promise<{ admitted: AdmittedTask[]; backlog: boolean }> {
  const { providerLimits, queuePrefix: lane } = opts;
  const maxPerRun = opts.maxPerRun ?? ADMISSION_MAX_PER_RUN;
  const maxBatchPerRun = Math.min(opts.maxBatchPerRun ?? maxPerRun, maxPerRun);
  // Three round trips on a pg client (begin with the lock, the statement, commit): admission runs
  // for every create, and through Prisma its six took 10-50 ms of a busy worker's event loop.
  const client = await poolOf(db).connect();
  let broken = false;
  try {
    await client.query(ADMISSION_BEGIN);
    // Free slots per limited provider; a provider missing from the list has no limit.
    const limited = Object.keys(providerLimits);
    const free = new Map(limited.map((p) => [p, providerLimits[p]!]));
    if (limited.length > 0) {
      const rows = (await client.query<{ provider: string; live: number }>(PROVIDER_LIVE_SQL, [lane])).rows;
      for (const r of rows) if (free.has(r.provider)) free.set(r.provider, Math.max(0, free.get(r.provider)! - r.live));
    }
    // Tasks of a provider with no slot left are skipped before each key's LIMIT, so they do not use up
    // the key's room in this run while its tasks for other providers wait.
    const full = limited.filter((p) => free.get(p) === 0);
    const { rows } = await client.query<AdmittedTask & { id: string | null; backlog: boolean }>(ADMISSION_SQL, [
      lane,
      maxPerRun,
      maxBatchPerRun,
      full,
      [...free.keys()],
      [...free.values()],
    ]);
    await client.query('COMMIT');
    const backlog = rows[0]?.backlog ?? false;
    return { admitted: rows.filter((r) => r.id !== null).map(({ backlog: _b, ...a }) => a as AdmittedTask), backlog };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * One admitter at a time, and no JIT: the planner's cost for the statement passed jit_above_cost
 * once a batch's tasks waited, and compiling it took 65-156 ms a run (up to 1.8 s when optimised)
 * for a statement that runs in a few milliseconds. Waiting for another process's run is normal.
 */
const ADMISSION_BEGIN = `BEGIN; SET LOCAL lock_timeout = '15s'; SET LOCAL statement_timeout = '60s'; SET LOCAL jit = off; SELECT pg_advisory_xact_lock(${ADMISSION_LOCK})`;

const PROVIDER_LIVE_SQL = `SELECT provider, count(*)::int AS live FROM tasks WHERE ${holdsSlotSql()} AND queue_prefix = $1 GROUP BY provider`;

// $1 lane (queue prefix), $2 max per run, $3 max batch tasks per run, $4 providers with no slot
// left, $5/$6 limited providers and their free slots.
const INTERACTIVE_WAITING = `${waitingSql('t.')} AND t.batch_id IS NULL AND t.queue_prefix = $1`; // as tasks_waiting_idx is written
const BATCH_WAITING = `${waitingSql('t.')} AND t.batch_id IS NOT NULL`; // as tasks_batch_waiting_idx is written
const OPEN_BATCH = `b.status = 'in_progress' AND b.queue_prefix = $1`;
const ADMISSION_SQL = `
  WITH RECURSIVE interactive_keys(id) AS (
    -- One index probe per key with interactive work waiting (a skip scan of tasks_waiting_idx),
    -- not a pass over every waiting task: with 50,000 of them that pass took ~36 ms a run.
    (SELECT t.api_key_id FROM tasks t WHERE ${INTERACTIVE_WAITING} ORDER BY t.api_key_id LIMIT 1)
    UNION ALL
    SELECT (SELECT t.api_key_id FROM tasks t WHERE ${INTERACTIVE_WAITING} AND t.api_key_id > w.id ORDER BY t.api_key_id LIMIT 1)
    FROM interactive_keys w WHERE w.id IS NOT NULL
  ),
  -- Batch tasks come from batches that are in_progress (tasks_batch_waiting_idx): one whose rows
  -- are still being inserted is not, so its uncommitted index entries are never walked.
  open_batches AS (
    SELECT b.id, b.api_key_id FROM batches b
    WHERE ${OPEN_BATCH} AND EXISTS (SELECT 1 FROM tasks t WHERE t.batch_id = b.id AND ${BATCH_WAITING})
  ),
  waiting_keys AS (
    SELECT k.id, row_number() OVER (ORDER BY k.last_admitted_at ASC NULLS FIRST, k.id)::int AS key_order,
      CASE WHEN k.max_concurrent IS NULL THEN $2::int ELSE GREATEST(0, k.max_concurrent - (
        SELECT count(*) FROM tasks t WHERE t.api_key_id = k.id AND ${holdsSlotSql('t.')})::int) END AS room
    FROM api_keys k
    WHERE k.id IN (SELECT id FROM interactive_keys WHERE id IS NOT NULL UNION SELECT api_key_id FROM open_batches)
  ),
  candidates AS (
    SELECT c.id, c.provider, c.is_batch, w.key_order,
      row_number() OVER (PARTITION BY w.id ORDER BY c.is_batch, c.created_at, c.id)::int AS round
    FROM waiting_keys w
    CROSS JOIN LATERAL (
      SELECT u.* FROM (
        (SELECT t.id, t.provider, t.created_at, false AS is_batch FROM tasks t
         WHERE t.api_key_id = w.id AND ${INTERACTIVE_WAITING} AND t.provider <> ALL($4::text[])
         ORDER BY t.created_at, t.id
         LIMIT LEAST(w.room, $2::int))
        UNION ALL
        (SELECT bt.id, bt.provider, bt.created_at, true AS is_batch FROM open_batches b
         CROSS JOIN LATERAL (
           SELECT t.id, t.provider, t.created_at FROM tasks t
           WHERE t.batch_id = b.id AND ${BATCH_WAITING} AND t.provider <> ALL($4::text[])
           ORDER BY t.created_at, t.id
           -- A key's batch task past the run's batch cap can never be chosen (its kind_rank is at
           -- least its place in the key's batch queue). Reading up to 1,000 of them, as the key's
           -- room allows, is what put the plan's estimated cost past jit_above_cost (622,956).
           LIMIT LEAST(w.room, $3::int)
         ) bt
         WHERE b.api_key_id = w.id)
      ) u
      ORDER BY u.is_batch, u.created_at, u.id
      LIMIT LEAST(w.room, $2::int)
    ) c
  ),
  ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.provider ORDER BY c.is_batch, c.round, c.key_order)::int AS provider_rank,
      row_number() OVER (PARTITION BY c.is_batch ORDER BY c.round, c.key_order)::int AS kind_rank
    FROM candidates c
  ),
  chosen AS (
    SELECT r.id, r.round, r.key_order, r.is_batch FROM ranked r
    LEFT JOIN unnest($5::text[], $6::int[]) AS f(provider, free) ON f.provider = r.provider
    WHERE (f.free IS NULL OR r.provider_rank <= f.free) AND (NOT r.is_batch OR r.kind_rank <= $3::int)
    ORDER BY r.is_batch, r.round, r.key_order
    LIMIT $2::int
  ), moved AS (
    -- By primary key from an array: joined to chosen instead, a table whose statistics predate
    -- a 50,000-row batch was planned as a nested loop over every waiting task (seconds a run).
    UPDATE tasks t SET admitted_at = now(), updated_at = now()
    WHERE t.id = ANY(ARRAY(SELECT id FROM chosen)) AND ${waitingSql('t.')}
    RETURNING t.id, t.api_key_id, t.request_id, t.model, left(t.prompt, 60) AS prompt_start
  ), logged AS (
    INSERT INTO task_events (task_id, kind) SELECT id, 'admitted' FROM moved
  ), admitted AS (
    SELECT m.*, k.name AS key_name, c.is_batch AS batch,
      row_number() OVER (ORDER BY c.is_batch, c.round, c.key_order) AS place
    FROM moved m JOIN chosen c ON c.id = m.id JOIN api_keys k ON k.id = m.api_key_id
  ), turns AS (
    -- Keys in the order of their last turn, so the next run starts with whoever waited longest.
    SELECT api_key_id, row_number() OVER (ORDER BY max(place)) AS turn FROM admitted GROUP BY api_key_id
  ), stamped AS (
    -- After every task row (turns reads all of admitted first): holding no key row while task rows
    -- are being locked avoids a deadlock with a task closing its money (task row, then key row).
    -- The column keeps milliseconds, so turns are a millisecond apart, after every earlier stamp.
    UPDATE api_keys k
    SET last_admitted_at = GREATEST(statement_timestamp(), (SELECT max(last_admitted_at) FROM api_keys)) + v.turn * interval '1 millisecond'
    FROM turns v WHERE k.id = v.api_key_id
  ), backlog AS (
    -- What this statement's snapshot still shows waiting, less what it admitted.
    SELECT EXISTS (SELECT 1 FROM tasks t WHERE ${INTERACTIVE_WAITING} AND t.id <> ALL(ARRAY(SELECT id FROM moved)))
      OR EXISTS (SELECT 1 FROM batches b WHERE ${OPEN_BATCH}
        AND EXISTS (SELECT 1 FROM tasks t WHERE t.batch_id = b.id AND ${BATCH_WAITING} AND t.id <> ALL(ARRAY(SELECT id FROM moved)))) AS backlog
  )
  SELECT a.id, a.api_key_id, a.request_id, a.model, a.prompt_start, a.key_name, a.batch, backlog.backlog
  FROM backlog LEFT JOIN admitted a ON true
  ORDER BY a.place`;

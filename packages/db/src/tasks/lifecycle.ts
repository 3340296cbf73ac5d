import { assertTransition, billedMilliseconds, newId, type TaskErrorCode, type TaskStatus } from '@reelay/core';
import type { Db } from '../client';
import { fromRow, statement } from '../pg';
import { poolOf } from '../client';
import type { TaskEventActor } from './events';
import type { TaskEnd } from './read';

/**
 * The end of a task, in one statement so that it holds no pool client across round trips: the
 * move out of a live status (guarded by it, so of two racing callers exactly one wins), its money
 * closed once (on completion the reservation is released and what was produced is charged, never
 * more than was reserved; otherwise the reservation is only released), the key's committed total
 * moved by the difference, and the end on the task's timeline. Its concurrency slot is freed by the
 * status itself (admission counts live tasks). A row is updated once per statement, so the billing
 * columns move in the same UPDATE as the status. Locks the task row, then its key's row, as a
 * create does.
 *
 * $1 id, $2 the live statuses it may leave, $3 ending status, $4 completed_at, $5 ledger ids
 * (release, charge), $6 timeline kind, $7 actor; `set` and `charge` may use $8 onwards.
 */
const endStatement = (set: string, charge: string) =>
  statement(`WITH old AS (
    SELECT id, billing_status, reserved_micros, price_micros_per_second FROM tasks WHERE id = $1 AND status = ANY($2::"TaskStatus"[]) FOR UPDATE
  ), moved AS (
    UPDATE tasks t SET status = $3::"TaskStatus", completed_at = $4, updated_at = now(), ${set},
      billing_status = CASE WHEN old.billing_status = 'reserved' THEN (CASE WHEN $3 = 'completed' THEN 'settled' ELSE 'released' END)::"BillingStatus" ELSE t.billing_status END,
      cost_micros = CASE WHEN old.billing_status = 'reserved' AND $3 = 'completed' THEN ${charge} ELSE t.cost_micros END
    FROM old WHERE t.id = old.id
    RETURNING t.*, old.billing_status = 'reserved' AS was_reserved
  ), released AS (
    INSERT INTO ledger_entries (id, api_key_id, task_id, kind, amount_micros)
    SELECT ($5::text[])[1], api_key_id, id, 'release', -reserved_micros FROM moved WHERE was_reserved
  ), charged AS (
    INSERT INTO ledger_entries (id, api_key_id, task_id, kind, amount_micros)
    SELECT ($5::text[])[2], api_key_id, id, 'charge', cost_micros FROM moved WHERE was_reserved AND status = 'completed'
  ), keyed AS (
    UPDATE api_keys k SET committed_micros = k.committed_micros + COALESCE(m.cost_micros, 0) - m.reserved_micros
    FROM moved m WHERE k.id = m.api_key_id AND m.was_reserved
  ), logged AS (
    INSERT INTO task_events (task_id, kind, target, upstream_id, progress, code, message, actor)
    SELECT id, $6, provider_target, upstream_id, progress, error_code, error_message, $7 FROM moved
  )
  SELECT m.model, m.provider, m.status, m.error_code, m.callback_url, m.deleted_at, k.webhook_url, m.api_key_id, m.provider_target,
    m.submit_attempts, m.poll_count, m.cost_micros, m.created_at, m.started_at, m.completed_at, m.batch_id
  FROM moved m JOIN api_keys k ON k.id = m.api_key_id`);

// The charge is core's costForSeconds (price × billed milliseconds, rounded up to a micro-unit)
// capped at the reservation; without a produced length, the reservation.
const COMPLETE = endStatement(
  `progress = 100, poll_count = t.poll_count + 1, poll_errors = 0, upstream_cost_usd = $8, produced_seconds = COALESCE($9, t.produced_seconds)`,
  `CASE WHEN $10::bigint IS NULL THEN old.reserved_micros ELSE LEAST(old.reserved_micros, (old.price_micros_per_second * $10::bigint + 999) / 1000) END`,
);
const FAIL = endStatement(`error_code = $8, error_message = $9`, 'NULL');

async function endTask(
  db: Db,
  id: string,
  from: TaskStatus[],
  to: 'completed' | 'failed',
  kind: string,
  actor: TaskEventActor | null,
  more: unknown[],
): Promise<TaskEnd | null> {
  const values = [id, from, to, new Date().toISOString(), [newId('led'), newId('led')], kind, actor, ...more];
  const res = await poolOf(db).query({ ...(to === 'completed' ? COMPLETE : FAIL), values });
  return res.rows[0] ? fromRow<TaskEnd>(res.rows[0]) : null;
}

/**
 * Completes a processing task (see endStatement); null when it was no longer processing (cancelled
 * meanwhile, or completed by another run of the same job). What the upstream reported is recorded.
 */
export function completeTask(db: Db, id: string, usage: { producedSeconds?: number | null; upstreamCostUsd?: number | null } = {}): Promise<TaskEnd | null> {
  const produced = usage.producedSeconds ?? null;
  const producedMs = produced === null ? null : billedMilliseconds(produced).toString();
  return endTask(db, id, ['processing'], 'completed', 'completed', null, [usage.upstreamCostUsd ?? null, produced, producedMs]);
}

/** Fails a live task (pending or processing); null when it had already ended. */
export function failLiveTask(db: Db, id: string, code: TaskErrorCode, message: string, actor: TaskEventActor | null = null): Promise<TaskEnd | null> {
  const kind = code === 'cancelled' ? 'cancelled' : 'failed';
  return endTask(db, id, ['pending', 'processing'], 'failed', kind, actor, [code, message.slice(0, 2000)]);
}

/** Hides a task from its owner for good; false when it was already deleted. */
export async function markTaskDeleted(db: Db, id: string): Promise<boolean> {
  const res = await db.task.updateMany({ where: { id, deletedAt: null }, data: { deletedAt: new Date() } });
  return res.count === 1;
}

const CHOOSE_TARGET = statement(`WITH chosen AS (
    UPDATE tasks SET provider_target = $2, provider = $3, updated_at = now() WHERE id = $1 AND status = 'pending'
    RETURNING id, submit_attempts
  )
  INSERT INTO task_events (task_id, kind, target, attempt) SELECT id, 'submitting', $2, submit_attempts + 1 FROM chosen`);

/**
 * Writes the target a pending task is about to be submitted to, before the call (so a crash
 * resubmits there first), and the attempt on its timeline (attempt n is submit round n).
 */
export async function chooseTarget(db: Db, id: string, targetKey: string, provider: string): Promise<void> {
  await poolOf(db).query({ ...CHOOSE_TARGET, values: [id, targetKey, provider] });
}

const MARK_SUBMITTED = statement(`WITH moved AS (
    UPDATE tasks SET status = 'processing', provider = $2, provider_target = $3, upstream_model = $4, upstream_id = $5,
      started_at = $6, next_poll_at = $7, updated_at = now()
    WHERE id = $1 AND status = 'pending'
    RETURNING id, submit_attempts
  ), logged AS (
    INSERT INTO task_events (task_id, kind, target, attempt, upstream_id) SELECT id, 'submitted', $3, submit_attempts + 1, $5 FROM moved
  )
  SELECT count(*)::int AS moved FROM moved`);

/**
 * A pending task accepted by an upstream moves to processing with the upstream's id, and says so
 * on its timeline, in one statement; false when it was no longer pending (cancelled meanwhile).
 */
export async function markTaskSubmitted(
  db: Db,
  id: string,
  s: { provider: string; providerTarget: string; upstreamModel: string | null; upstreamId: string; startedAt: Date; nextPollAt: Date },
): Promise<boolean> {
  assertTransition('pending', 'processing');
  const res = await poolOf(db).query<{ moved: number }>({
    ...MARK_SUBMITTED,
    values: [id, s.provider, s.providerTarget, s.upstreamModel, s.upstreamId, s.startedAt.toISOString(), s.nextPollAt.toISOString()],
  });
  return res.rows[0]!.moved === 1;
}

/** Counts a submit round in which no target accepted the task. */
export async function recordSubmitRound(db: Db, id: string, rounds: number): Promise<void> {
  await db.task.update({ where: { id }, data: { submitAttempts: rounds } });
}

/**
 * Ended tasks of one deployment (queue prefix: its storage holds their files) whose results are
 * past expires_at and not swept yet, in expires_at order (tasks_expires_at_idx).
 */
export async function findExpiredResults(db: Db, queuePrefix: string, now: Date, limit: number): Promise<string[]> {
  const rows = await db.task.findMany({
    where: { expiresAt: { lte: now }, filesDeletedAt: null, status: { in: ['completed', 'failed'] }, queuePrefix },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: limit,
  });
  return rows.map((r) => r.id);
}

/** After its files were removed: forget the task's outputs and stamp files_deleted_at (the row stays, content answers 410). */
export async function markResultsExpired(db: Db, id: string): Promise<void> {
  await db.$transaction([
    db.taskOutput.deleteMany({ where: { taskId: id } }),
    db.task.updateMany({ where: { id, filesDeletedAt: null }, data: { filesDeletedAt: new Date() } }),
  ]);
}

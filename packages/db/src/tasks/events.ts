import { poolOf, type Db } from '../client';
import { fromRow, statement } from '../pg';

/**
 * A task's timeline (table task_events; its creation from the task row): one row per step, written
 * by the statement that made the step wherever one exists (a CTE beside the task's UPDATE), so recording costs no
 * round trip of its own. Steps that can repeat (progress, poll errors, submit failures, webhook
 * attempts) stop being recorded once a task has TIMELINE_MAX rows; its end is always recorded.
 */
export const TIMELINE_MAX = 100;

export type TaskEventKind =
  'created' | 'admitted' | 'submitting' | 'submit_failed' | 'submitted' | 'progress' | 'poll_error' | 'webhook' | 'completed' | 'failed' | 'cancelled';

/** Who made a step when it was not the worker. */
export type TaskEventActor = 'owner' | 'operator';

export interface TaskEvent {
  id: bigint;
  taskId: string;
  at: Date;
  kind: TaskEventKind;
  target: string | null;
  attempt: number | null;
  upstreamId: string | null;
  progress: number | null;
  code: string | null;
  message: string | null;
  actor: TaskEventActor | null;
}

export type NewTaskEvent = Pick<TaskEvent, 'taskId' | 'kind'> & Partial<Omit<TaskEvent, 'id' | 'taskId' | 'kind' | 'at'>>;

/** SQL true while task `idExpr` has room for another repeatable step. */
export const timelineHasRoom = (idExpr: string): string => `(SELECT count(*) FROM task_events e WHERE e.task_id = ${idExpr}) < ${TIMELINE_MAX}`;

const INSERT_EVENT = statement(`INSERT INTO task_events (task_id, kind, target, attempt, upstream_id, progress, code, message, actor)
  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE $10::boolean OR ${timelineHasRoom('$1')}`);

const ALWAYS: ReadonlySet<TaskEventKind> = new Set(['created', 'completed', 'failed', 'cancelled']);

/** One step on a path that has no statement of its own to carry it (a target that refused the task). */
export async function recordTaskEvent(db: Db, e: NewTaskEvent): Promise<void> {
  await poolOf(db).query({
    ...INSERT_EVENT,
    values: [
      e.taskId,
      e.kind,
      e.target ?? null,
      e.attempt ?? null,
      e.upstreamId ?? null,
      e.progress ?? null,
      e.code ?? null,
      e.message?.slice(0, 2000) ?? null,
      e.actor ?? null,
      ALWAYS.has(e.kind),
    ],
  });
}

/**
 * The first step, "created", is read from the task row itself (its created_at, and the task a
 * re-run copies), so a create writes no event row. Rows of that kind written by earlier versions
 * are left out in favour of it.
 */
const LIST_EVENTS = statement(`SELECT * FROM (
    SELECT 0::bigint AS id, t.id AS task_id, t.created_at AS at, 'created' AS kind, NULL::text AS target, NULL::int AS attempt,
      NULL::text AS upstream_id, NULL::int AS progress, NULL::text AS code,
      CASE WHEN t.retried_from_id IS NOT NULL THEN 'Re-run of ' || t.retried_from_id END AS message, NULL::text AS actor
    FROM tasks t WHERE t.id = $1
    UNION ALL
    SELECT id, task_id, at, kind, target, attempt, upstream_id, progress, code, message, actor FROM task_events WHERE task_id = $1 AND kind <> 'created'
  ) e ORDER BY id`);

/** A task's timeline, oldest step first. */
export async function listTaskEvents(db: Db, taskId: string): Promise<TaskEvent[]> {
  const res = await poolOf(db).query({ ...LIST_EVENTS, values: [taskId] });
  return res.rows.map((r) => fromRow<TaskEvent>(r));
}

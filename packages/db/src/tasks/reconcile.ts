import { poolOf, type Db } from '../client';

/**
 * The queries of the worker's reconciler: which live tasks should have a job in Redis, and a
 * mark that they were just checked. A task has a job from its admission until it ends; a pending
 * task not yet admitted has none on purpose (admission queues it when its turn comes).
 */
const HAS_JOB = `(status = 'processing' OR (status = 'pending' AND admitted_at IS NOT NULL))`;

export interface LiveTaskRef {
  id: string;
  requestId: string | null;
  /** Made from a batch line: its job is queued again at the batch priority. */
  batch: boolean;
}

/**
 * One page of the deployment's live tasks that should have a job, in id order (`afterId` is the
 * last id of the previous page). `quietSince` keeps only tasks not updated since then: a task
 * being polled writes its row on every poll, so it plainly has a job.
 */
export async function findLiveTasksWithJobs(db: Db, opts: { queuePrefix: string; quietSince: Date; limit: number; afterId?: string }): Promise<LiveTaskRef[]> {
  const res = await poolOf(db).query<{ id: string; request_id: string | null; batch: boolean }>({
    name: 'reconcile_live_tasks',
    // The zone of an ISO string is dropped on the way into a timestamp column: UTC wall time, as stored.
    text: `SELECT id, request_id, batch_id IS NOT NULL AS batch FROM tasks
      WHERE queue_prefix = $1 AND status IN ('pending', 'processing') AND ${HAS_JOB}
        AND updated_at < $2::timestamp AND ($3::text IS NULL OR id > $3::text)
      ORDER BY id LIMIT $4`,
    values: [opts.queuePrefix, opts.quietSince.toISOString(), opts.afterId ?? null, opts.limit],
  });
  return res.rows.map((r) => ({ id: r.id, requestId: r.request_id, batch: r.batch }));
}

/** Marks the tasks as just checked (one statement), so the next quiet-task sweep skips them. */
export async function touchLiveTasks(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await poolOf(db).query({
    name: 'reconcile_touch_tasks',
    text: `UPDATE tasks SET updated_at = timezone('UTC', now())
      WHERE id = ANY($1::text[]) AND status IN ('pending', 'processing')`,
    values: [ids],
  });
}

/** Whether the deployment has any task that should have a job (readiness after Redis lost its data). */
export async function hasLiveTasksWithJobs(db: Db, queuePrefix: string): Promise<boolean> {
  const res = await poolOf(db).query<{ any: boolean }>({
    name: 'reconcile_any_live_task',
    text: `SELECT EXISTS (SELECT 1 FROM tasks WHERE queue_prefix = $1 AND status IN ('pending', 'processing') AND ${HAS_JOB}) AS any`,
    values: [queuePrefix],
  });
  return res.rows[0]!.any;
}

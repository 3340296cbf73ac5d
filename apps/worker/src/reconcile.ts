import { findLiveTasksWithJobs, touchLiveTasks } from '@reelay/db';
import { ensureTaskJobs, type TaskJob } from '@reelay/queue';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context';

/** Tasks per batch: one SELECT, one burst of job-state reads, one addBulk, one UPDATE. */
const BATCH = 1000;

export interface ReconcileResult {
  checked: number;
  requeued: number;
}

/**
 * Gives every live task of this deployment (REELAY_QUEUE_PREFIX) that should have a job one
 * again: after Redis lost its data, a job failed by the stall limit, an enqueue lost after
 * admission committed. Works in batches, in id order; tasks updated within `quietMs` are skipped
 * (a task being polled writes its row on every poll: it has a job). `quietMs: 0` checks them all,
 * as after a loss and at start. Checked tasks are touched, so the next sweep skips them.
 * A job that exists is never touched, so a task held by a worker is not run twice.
 */
export async function reconcileTasks(
  ctx: Pick<WorkerContext, 'db' | 'config'>,
  queue: Queue<TaskJob>,
  opts: { quietMs: number; batch?: number; afterBatch?: () => Promise<void> },
): Promise<ReconcileResult> {
  const batch = opts.batch ?? BATCH;
  const quietSince = new Date(Date.now() - opts.quietMs);
  const result: ReconcileResult = { checked: 0, requeued: 0 };
  let afterId: string | undefined;
  for (;;) {
    const tasks = await findLiveTasksWithJobs(ctx.db, { queuePrefix: ctx.config.REELAY_QUEUE_PREFIX, quietSince, limit: batch, afterId });
    if (tasks.length === 0) break;
    const queued = await ensureTaskJobs(
      queue,
      tasks.map((t) => ({ taskId: t.id, requestId: t.requestId ?? undefined, batch: t.batch })),
    );
    await touchLiveTasks(
      ctx.db,
      tasks.map((t) => t.id),
    );
    result.checked += tasks.length;
    result.requeued += queued.length;
    await opts.afterBatch?.();
    if (tasks.length < batch) break;
    afterId = tasks[tasks.length - 1]!.id;
  }
  return result;
}

/** How long a task must have been quiet before the periodic sweep checks it. */
export const sweepQuietMs = (config: WorkerContext['config']): number => Math.max(config.POLL_MAX_MS * 4, config.WORKER_LOCK_MS * 2);

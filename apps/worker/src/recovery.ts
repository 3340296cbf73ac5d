import { hasLiveTasksWithJobs } from '@reelay/db';
import { DataLossWatch, isRecovering, RECOVERING_REASON, type Redis, type TaskJob } from '@reelay/queue';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context';
import { reconcileTasks } from './reconcile';

export interface Recovery {
  /** What /readyz reports while live tasks are without a job after Redis lost its data; null when none are. */
  status(): Promise<Record<string, unknown> | null>;
  close(): Promise<void>;
}

/**
 * Gets every live task its job back, fast: after Redis lost its data (noticed by the watch within
 * a second; the schedulers are restored too) and once at start, so a deployment whose workers
 * restart more often than the sweep runs still reconciles.
 */
export async function startRecovery(
  ctx: WorkerContext,
  opts: { redis: Redis; tasksQueue: Queue<TaskJob>; restoreSchedulers: () => Promise<void> },
): Promise<Recovery> {
  const { logger } = ctx;
  const prefix = ctx.config.REELAY_QUEUE_PREFIX;
  const watch = new DataLossWatch({
    redis: opts.redis,
    prefix,
    logger,
    async recover(renew) {
      await opts.restoreSchedulers();
      const result = await reconcileTasks(ctx, opts.tasksQueue, { quietMs: 0, afterBatch: renew });
      logger.info(result, 'queued live tasks again after Redis data loss');
    },
  });
  // When the epoch is missing the watch's own pass covers the start.
  const startPass = (await watch.start())
    ? reconcileTasks(ctx, opts.tasksQueue, { quietMs: 0 }).then(
        (r) => r.requeued > 0 && logger.info(r, 'reconciled tasks without a job at start'),
        (err: Error) => logger.error({ err }, 'reconcile at start failed'),
      )
    : Promise.resolve();
  return {
    async status() {
      if (watch.lostSince) return { reason: RECOVERING_REASON, since: watch.lostSince.toISOString() };
      return (await isRecovering(opts.redis, prefix, () => hasLiveTasksWithJobs(ctx.db, prefix))) ? { reason: RECOVERING_REASON } : null;
    },
    async close() {
      await watch.close();
      await startPass;
    },
  };
}

import { SCHEDULERS, type TaskJob } from '@reelay/queue';
import type { Job, Queue } from 'bullmq';
import type { WorkerContext } from '../context';
import { expireResults } from '../maintenance/expire-results';
import { reconcileTasks, sweepQuietMs, type ReconcileResult } from '../reconcile';

/** Thin: one maintenance job name (a scheduler id in the queue catalog) → one domain function. */
export function createMaintenanceProcessor(ctx: WorkerContext, tasksQueue: Queue<TaskJob>) {
  return async (job: Job): Promise<{ swept: number } | ReconcileResult | undefined> => {
    if (job.name === SCHEDULERS.expireResults) return { swept: await expireResults(ctx, ctx.config.WORKER_EXPIRY_SWEEP_BATCH) };
    if (job.name === SCHEDULERS.reconcileTasks) {
      const result = await reconcileTasks(ctx, tasksQueue, { quietMs: sweepQuietMs(ctx.config) });
      if (result.requeued > 0) ctx.logger.info(result, 'reconciled tasks without a job');
      return result;
    }
    return undefined;
  };
}

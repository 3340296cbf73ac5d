import type { Job } from 'bullmq';
import type { WorkerContext } from '../context';
import { expireResults } from '../maintenance/expire-results';

export const EXPIRE_RESULTS_SCHEDULER = 'expire-results';

/** Thin: one maintenance job name → one domain function. */
export function createMaintenanceProcessor(ctx: WorkerContext) {
  return async (job: Job): Promise<{ swept: number } | undefined> => {
    if (job.name === EXPIRE_RESULTS_SCHEDULER) return { swept: await expireResults(ctx, ctx.config.WORKER_EXPIRY_SWEEP_BATCH) };
    return undefined;
  };
}

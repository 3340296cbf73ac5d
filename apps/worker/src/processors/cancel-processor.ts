import type { Job } from 'bullmq';
import { cancelJobSchema, type CancelJob } from '@reelay/queue';
import type { WorkerContext } from '../context';
import { cancelUpstream } from '../pipeline/cancel-upstream';

/** Thin: parse the job and stop the deleted task's upstream work (retried by BullMQ on error). */
export function createCancelProcessor(ctx: WorkerContext) {
  return async (job: Job<CancelJob>): Promise<void> => {
    const { taskId } = cancelJobSchema.parse(job.data);
    await cancelUpstream(ctx, taskId);
  };
}

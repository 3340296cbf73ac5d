import { DelayedError, type Job } from 'bullmq';
import { batchJobSchema, type BatchJob } from '@reelay/queue';
import type { WorkerContext } from '../context';
import { advanceBatch } from '../batches/advance-batch';

/** Thin: parse the job, run the batch's next steps, re-delay the job while its tasks run. */
export function createBatchProcessor(base: WorkerContext) {
  return async (job: Job<BatchJob>, token?: string): Promise<void> => {
    const { batchId, requestId } = batchJobSchema.parse(job.data);
    const ctx: WorkerContext = { ...base, requestId, logger: base.logger.child({ requestId, batchId, jobId: job.id }) };
    const step = await advanceBatch(ctx, batchId);
    if (step.kind === 'wait') {
      await job.moveToDelayed(Date.now() + step.delayMs, token);
      throw new DelayedError();
    }
  };
}

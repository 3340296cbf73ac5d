import { DelayedError, type Job, type Queue } from 'bullmq';
import { isBatchTaskJob, takeWakeMark, TaskFailedError, taskJobSchema, type Redis, type TaskJob } from '@reelay/queue';
import type { WorkerContext } from '../context';
import { advanceTask } from '../pipeline/advance-task';
import { failTask } from '../pipeline/fail-task';

/**
 * Thin: parse the job, run one pipeline step, re-delay the job when the step says "later" — or
 * run the next step at once when the task was woken while this one ran (see wakeTask).
 */
export function createTaskProcessor(base: WorkerContext, tasksQueue: Queue<TaskJob>, redis: Redis) {
  return async (job: Job<TaskJob>, token?: string): Promise<void> => {
    const data = taskJobSchema.parse(job.data);
    const { taskId, requestId } = data;
    let failure: string | undefined;
    // The request id of the create call follows the task into every log line of its job.
    const ctx: WorkerContext = {
      ...base,
      requestId,
      logger: base.logger.child({ requestId, taskId, jobId: job.id }),
      // What the dashboard shows is best effort: a Redis hiccup here must not fail the step.
      job: {
        progress: (p) => void job.updateProgress(p).catch(() => undefined),
        log: (line) => void job.log(line).catch(() => undefined),
        failed: (reason) => (failure = reason),
      },
    };
    let outcome;
    const batch = isBatchTaskJob(job);
    try {
      outcome = await advanceTask(ctx, taskId);
      // Woken while this step ran (its render ended, its webhook came): run the next step now.
      while (outcome.kind === 'wait' && (await takeWakeMark(tasksQueue, redis, taskId))) outcome = await advanceTask(ctx, taskId);
    } catch (err) {
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) {
        // Out of retries: the task fails visibly instead of sticking in processing.
        await failTask(ctx, taskId, 'upstream_error', `The task could not be processed (gave up after ${attempts} attempts)`, (err as Error).message);
        ctx.wakeAdmission?.(batch);
        return;
      }
      throw err; // registerWorker logs and counts the failed attempt; BullMQ retries it
    }
    if (outcome.kind === 'done') {
      ctx.wakeAdmission?.(batch);
      // A job whose step failed its task fails too, so the queue dashboard lists it under Failed with the task's error.
      if (failure !== undefined) throw new TaskFailedError(failure);
    }
    if (outcome.kind === 'wait') {
      await job.moveToDelayed(outcome.at, token);
      throw new DelayedError();
    }
  };
}

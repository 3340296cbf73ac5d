import type { Logger } from '@reelay/observability';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  batchJobSchema,
  cancelJobSchema,
  QUEUES,
  taskJobSchema,
  webhookJobSchema,
  type BatchJob,
  type CancelJob,
  type QueueConfig,
  type QueueJobOptions,
  type QueueSpec,
  type TaskJob,
  type WebhookJob,
} from './catalog';
import { errorListener } from './events';
import { wakeKey } from './keys';

/** A producer for a catalog queue: its default job options and an error listener that logs. */
export function createQueue<T>(spec: QueueSpec<T>, connection: Redis, prefix: string, config: QueueConfig, logger?: Logger): Queue<T> {
  return openQueue<T>(spec.name, spec.jobOptions(config), connection, prefix, logger);
}

function openQueue<T>(name: string, defaultJobOptions: QueueJobOptions, connection: Redis, prefix: string, logger?: Logger): Queue<T> {
  const queue = new Queue<T>(name, { connection, prefix, defaultJobOptions });
  queue.on('error', errorListener(name, 'queue', logger));
  return queue;
}

/** The task and cancel queues' options read no setting, so these need no config. */
export const createTasksQueue = (connection: Redis, prefix: string, logger?: Logger): Queue<TaskJob> =>
  openQueue(QUEUES.tasks.name, QUEUES.tasks.jobOptions(), connection, prefix, logger);

export const createCancelsQueue = (connection: Redis, prefix: string, logger?: Logger): Queue<CancelJob> =>
  openQueue(QUEUES.cancels.name, QUEUES.cancels.jobOptions(), connection, prefix, logger);

export async function enqueueTask(queue: Queue<TaskJob>, job: TaskJob): Promise<void> {
  await queue.add('task', taskJobSchema.parse(job), { jobId: job.taskId });
}

/** What a task job is called on the queue dashboard: `model · key name · prompt start`. */
export function taskJobName(t: { model: string; keyName: string; prompt: string | null }): string {
  const prompt = (t.prompt ?? '').replace(/\s+/g, ' ').trim();
  const start = prompt.length > 40 ? `${prompt.slice(0, 39)}…` : prompt;
  return [t.model, t.keyName, start || '(no prompt)'].join(' · ');
}

/**
 * BullMQ priority of batch tasks' jobs. A job without a priority is taken before every prioritised
 * one, so an interactive task admitted after a batch's jobs still starts first (and a batch task's
 * polls, which keep the job's priority, wait behind interactive steps).
 */
export const BATCH_JOB_PRIORITY = 10;

/** A batch task's job, as enqueueTasks queued it (a job without a priority is an interactive task's). */
export const isBatchTaskJob = (job: { opts: { priority?: number } }): boolean => (job.opts.priority ?? 0) > 0;

/** A task's job as it is queued: `name` says what the task is, `batch` ones run at BATCH_JOB_PRIORITY. */
type QueuedTaskJob = TaskJob & { name?: string; batch?: boolean };

/** Many tasks' jobs in one Redis round trip (admission and the reconciler queue hundreds at a time). */
export async function enqueueTasks(queue: Queue<TaskJob>, jobs: QueuedTaskJob[]): Promise<void> {
  if (jobs.length === 0) return;
  await queue.addBulk(
    jobs.map(({ name, batch, ...job }) => ({
      name: name ?? 'task',
      data: taskJobSchema.parse(job),
      opts: { jobId: job.taskId, ...(batch ? { priority: BATCH_JOB_PRIORITY } : {}) },
    })),
  );
}

/**
 * Makes sure each task has a job: reads every job's state in one burst of commands (ioredis
 * sends them back to back on one connection), drops jobs left finished (a job failed by the stall
 * limit, or one completed while its task still lives) and queues the missing ones in one addBulk
 * (`batch` ones at the batch priority, as admission queued them).
 * A job that exists — waiting, delayed or held by a worker — is left alone. Returns the ids queued.
 */
export async function ensureTaskJobs(queue: Queue<TaskJob>, jobs: QueuedTaskJob[]): Promise<string[]> {
  const states = await Promise.all(jobs.map((j) => queue.getJobState(j.taskId)));
  const finished = jobs.filter((_, i) => states[i] === 'completed' || states[i] === 'failed');
  await Promise.all(finished.map((j) => queue.remove(j.taskId)));
  const missing = jobs.filter((_, i) => states[i] === 'completed' || states[i] === 'failed' || states[i] === 'unknown');
  await enqueueTasks(queue, missing);
  return missing.map((j) => j.taskId);
}

export const webhookJobId = (job: Pick<WebhookJob, 'eventId' | 'target'>): string => `${job.eventId}-${job.target}`;

export async function enqueueWebhook(queue: Queue<WebhookJob>, job: WebhookJob): Promise<void> {
  await queue.add(job.type, webhookJobSchema.parse(job), { jobId: webhookJobId(job) });
}

/** One job per batch: queueing it again while it exists is a no-op. */
export async function enqueueBatch(queue: Queue<BatchJob>, job: BatchJob): Promise<void> {
  await queue.add('batch', batchJobSchema.parse(job), { jobId: job.batchId });
}

/** Wakes a batch's job now if it is waiting out its delay (a cancel asked for, its tasks ended). */
export async function promoteBatch(queue: Queue<BatchJob>, batchId: string): Promise<void> {
  const job = await queue.getJob(batchId);
  if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
}

/** One cancel job per task: deleting twice queues it once. */
export async function enqueueCancel(queue: Queue<CancelJob>, job: CancelJob): Promise<void> {
  await queue.add('cancel', cancelJobSchema.parse(job), { jobId: `cancel-${job.taskId}` });
}

const WAKE_MARK_MS = 30_000;
/** How often, and how many times, a waker looks again at a job a worker held when it came. */
const WAKE_RECHECK_MS = 100;
const WAKE_RECHECKS = 20;

/**
 * Runs a task's delayed job now (job id = task id) because its upstream moved on (a webhook, a
 * render that ended, a render slot that freed), or queues one if Redis lost it. The mark written
 * first covers a job a worker holds at this moment: the worker finds it before re-delaying the
 * job (takeWakeMark) and runs the next step at once. A mark that came just after that check is
 * still unread once the job sleeps: the waker looks again shortly and promotes it then. The job
 * is never promoted while held (BullMQ would then run it twice in one worker).
 */
export async function wakeTask(queue: Queue<TaskJob>, redis: Redis, taskId: string): Promise<void> {
  const mark = wakeKey(queue.opts.prefix ?? 'bull', taskId);
  await redis.set(mark, '1', 'PX', WAKE_MARK_MS);
  if ((await promoteSleeping(queue, redis, mark, taskId)) !== 'active') return;
  // Held by a worker right now: look again in the background (the caller need not wait).
  void (async () => {
    for (let check = 0; check < WAKE_RECHECKS; check++) {
      await new Promise((resolve) => setTimeout(resolve, WAKE_RECHECK_MS).unref());
      if (!(await redis.exists(mark))) return; // the worker took it
      if ((await promoteSleeping(queue, redis, mark, taskId)) !== 'active') return;
    }
  })().catch(() => undefined); // the scheduled poll remains the safety net
}

async function promoteSleeping(queue: Queue<TaskJob>, redis: Redis, mark: string, taskId: string): Promise<string> {
  const job = await queue.getJob(taskId);
  if (!job) {
    await enqueueTask(queue, { taskId });
    return 'queued';
  }
  const state = await job.getState();
  if (state === 'delayed') {
    await redis.del(mark);
    await job.promote().catch(() => undefined); // promoted by another wake meanwhile
  }
  return state;
}

/** True once per wakeTask since the last call: the caller should run the task's next step now. */
export async function takeWakeMark(queue: Queue<TaskJob>, redis: Redis, taskId: string): Promise<boolean> {
  return (await redis.del(wakeKey(queue.opts.prefix ?? 'bull', taskId))) === 1;
}

import { Queue, type JobsOptions } from 'bullmq';
import IORedis, { type Redis } from 'ioredis';
import { z } from 'zod';

/** Every queue Reelay uses, and the payload each job carries. Payloads hold ids, never secrets. */
export const QUEUE_NAMES = {
  tasks: 'video-tasks',
  maintenance: 'maintenance',
  webhooks: 'webhooks',
  cancels: 'task-cancels',
} as const;

/** One job per task, id = task id: it carries the task through submit → poll → finalize. */
export const taskJobSchema = z.object({
  taskId: z.string().min(1),
  // Optional so jobs queued by an older deploy still parse.
  requestId: z.string().optional(),
});
export type TaskJob = z.infer<typeof taskJobSchema>;

/** Stops a deleted task's upstream work and frees what the provider keeps for it. */
export const cancelJobSchema = z.object({ taskId: z.string().min(1) });
export type CancelJob = z.infer<typeof cancelJobSchema>;

export const CANCEL_JOB_OPTIONS: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

export const TASK_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: true,
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

/**
 * API connections fail fast when Redis is down (no offline queue, few retries) so requests get a
 * quick 503; worker connections wait forever (BullMQ requires maxRetriesPerRequest: null).
 */
export function createRedis(url: string, role: 'api' | 'worker'): Redis {
  const conn =
    role === 'api'
      ? new IORedis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 })
      : new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
  conn.on('error', () => undefined); // reported by health checks; an unhandled 'error' would crash the process
  return conn;
}

export function createTasksQueue(connection: Redis, prefix: string): Queue<TaskJob> {
  const queue = new Queue<TaskJob>(QUEUE_NAMES.tasks, { connection, prefix, defaultJobOptions: TASK_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return queue;
}

/**
 * Pub/sub channel on which the API announces a created task, so the workers' admission step runs
 * at once instead of at its next timer tick.
 */
export const admissionChannel = (queuePrefix: string): string => `${queuePrefix}:admission`;

export async function enqueueTask(queue: Queue<TaskJob>, job: TaskJob): Promise<void> {
  await queue.add('task', taskJobSchema.parse(job), { jobId: job.taskId });
}

/** Many tasks' jobs in one Redis round trip (admission queues hundreds at a time). */
export async function enqueueTasks(queue: Queue<TaskJob>, jobs: TaskJob[]): Promise<void> {
  if (jobs.length === 0) return;
  await queue.addBulk(jobs.map((job) => ({ name: 'task', data: taskJobSchema.parse(job), opts: { jobId: job.taskId } })));
}

/** One job per (event, target); its id is derived from both, so queueing an event twice is a no-op. */
export const webhookJobSchema = z.object({
  eventId: z.string().min(1),
  type: z.enum(['video.completed', 'video.failed']),
  taskId: z.string().min(1),
  target: z.enum(['key', 'callback']),
  /** Unix seconds; fixed at emission so every retry sends the same body. */
  createdAt: z.number().int(),
  requestId: z.string().optional(),
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** Exponential backoff over hours by default (30 s × 2^n, 12 attempts ≈ 34 h in all). */
export function webhookJobOptions(attempts: number, backoffMs: number): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    // Finished jobs are kept a week: while a job exists its id cannot be queued again, which is
    // what makes a re-emitted event a no-op.
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

export function createWebhooksQueue(connection: Redis, prefix: string, attempts: number, backoffMs: number): Queue<WebhookJob> {
  const queue = new Queue<WebhookJob>(QUEUE_NAMES.webhooks, { connection, prefix, defaultJobOptions: webhookJobOptions(attempts, backoffMs) });
  queue.on('error', () => undefined);
  return queue;
}

export { apiKeyVersionKey, invalidateApiKeyCache } from './api-key-version';
export function createCancelsQueue(connection: Redis, prefix: string): Queue<CancelJob> {
  const queue = new Queue<CancelJob>(QUEUE_NAMES.cancels, { connection, prefix, defaultJobOptions: CANCEL_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return queue;
}

export const webhookJobId = (job: Pick<WebhookJob, 'eventId' | 'target'>): string => `${job.eventId}-${job.target}`;

export async function enqueueWebhook(queue: Queue<WebhookJob>, job: WebhookJob): Promise<void> {
  await queue.add(job.type, webhookJobSchema.parse(job), { jobId: webhookJobId(job) });
}

/** Rejects after `ms` so a caller never waits on a Redis that is down (BullMQ waits for a connection). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface QueueStats {
  queue: string;
  counts: Record<string, number>;
  /** Seconds the oldest waiting job has waited; 0 when nothing waits. */
  oldestWaitingAgeSeconds: number;
}

/** Depth by state and age of the oldest waiting job, for metrics. */
export async function readQueueStats(queue: Queue): Promise<QueueStats> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  const oldestWaitingAgeSeconds = oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0;
  return { queue: queue.name, counts, oldestWaitingAgeSeconds };
}

/** One cancel job per task: deleting twice queues it once. */
export async function enqueueCancel(queue: Queue<CancelJob>, job: CancelJob): Promise<void> {
  await queue.add('cancel', cancelJobSchema.parse(job), { jobId: `cancel-${job.taskId}` });
}


import { Queue, type JobsOptions } from 'bullmq';
import IORedis, { type Redis } from 'ioredis';
import { z } from 'zod';

/** Every queue Reelay uses, and the payload each job carries. Payloads hold ids, never secrets. */
export const QUEUE_NAMES = {
  tasks: 'video-tasks',
  maintenance: 'maintenance',
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

export { apiKeyVersionKey, invalidateApiKeyCache } from './api-key-version';
export function createCancelsQueue(connection: Redis, prefix: string): Queue<CancelJob> {
  const queue = new Queue<CancelJob>(QUEUE_NAMES.cancels, { connection, prefix, defaultJobOptions: CANCEL_JOB_OPTIONS });
  queue.on('error', () => undefined);
  return queue;
}

/** One cancel job per task: deleting twice queues it once. */
export async function enqueueCancel(queue: Queue<CancelJob>, job: CancelJob): Promise<void> {
  await queue.add('cancel', cancelJobSchema.parse(job), { jobId: `cancel-${job.taskId}` });
}


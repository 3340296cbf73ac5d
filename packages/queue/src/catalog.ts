import type { Config } from '@reelay/config';
import type { BackoffOptions } from 'bullmq';
import { z } from 'zod';

/**
 * Every queue Reelay uses, in one table: what a job carries, how it is retried and kept, how a
 * worker takes it, and which jobs a scheduler adds on its own. Payloads hold ids, never secrets.
 *
 * Rolling deploys: a field added to a payload stays optional, so jobs queued by the previous
 * deploy still parse (and zod drops fields an older worker does not know).
 */

/** The settings the table reads (a full Config fits). */
export type QueueConfig = Pick<
  Config,
  | 'WORKER_CONCURRENCY'
  | 'WORKER_LOCK_MS'
  | 'WORKER_STALLED_INTERVAL_MS'
  | 'WORKER_RECONCILE_INTERVAL_MS'
  | 'WORKER_EXPIRY_SWEEP_INTERVAL_MS'
  | 'WEBHOOK_MAX_ATTEMPTS'
  | 'WEBHOOK_BACKOFF_MS'
  | 'WEBHOOK_CONCURRENCY'
>;

/** How long a finished job stays in Redis: `true` removes it at once; otherwise a count and/or an age (seconds) bound it. */
export type Retention = true | { count: number; age?: number } | { age: number; count?: number };

export interface QueueJobOptions {
  attempts: number;
  backoff?: BackoffOptions;
  removeOnComplete: Retention;
  removeOnFail: Retention;
}

/**
 * A job's lock is renewed every lockDuration / 2 while its worker lives; a worker that dies
 * (kill -9, OOM, a lost node) stops renewing, and the first stalled check after the lock lapses
 * puts the job back in `wait` for another worker: at most lockDuration + stalledInterval.
 * maxStalledCount is how many such takeovers a job survives before it fails.
 */
export interface WorkerDefaults {
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
}

export interface SchedulerSpec {
  /** Scheduler id and the name of the jobs it adds. */
  id: string;
  /** Milliseconds between runs; 0 switches the scheduler off. */
  every(config: QueueConfig): number;
}

export interface QueueSpec<T> {
  name: string;
  payload: z.ZodType<T>;
  jobOptions(config: QueueConfig): QueueJobOptions;
  worker(config: QueueConfig): WorkerDefaults;
  schedulers: readonly SchedulerSpec[];
}

/** One job per task, id = task id: it carries the task through submit → poll → finalize. */
export const taskJobSchema = z.object({
  taskId: z.string().min(1),
  /** Added after the first release: the create's x-request-id, for log correlation. */
  requestId: z.string().optional(),
});
export type TaskJob = z.infer<typeof taskJobSchema>;

/** Stops a deleted task's upstream work and frees what the provider keeps for it. */
export const cancelJobSchema = z.object({ taskId: z.string().min(1) });
export type CancelJob = z.infer<typeof cancelJobSchema>;

/** One job per batch, id = batch id: validates its file, creates its tasks, watches them, writes its results. */
export const batchJobSchema = z.object({ batchId: z.string().min(1), requestId: z.string().optional() });
export type BatchJob = z.infer<typeof batchJobSchema>;

/** One job per (event, target); its id is derived from both, so queueing an event twice is a no-op. */
export const webhookJobSchema = z.object({
  eventId: z.string().min(1),
  type: z.enum(['video.completed', 'video.failed', 'batch.completed', 'batch.failed', 'batch.cancelled', 'batch.expired']),
  /** The task of a video event (batch events carry batchId instead). */
  taskId: z.string().min(1).optional(),
  batchId: z.string().min(1).optional(),
  target: z.enum(['key', 'callback']),
  /** Unix seconds; fixed at emission so every retry sends the same body. */
  createdAt: z.number().int(),
  requestId: z.string().optional(),
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** Maintenance jobs are added by schedulers; the job's name says what to run, the data is empty. */
export const maintenanceJobSchema = z.object({});
export type MaintenanceJob = z.infer<typeof maintenanceJobSchema>;

export const SCHEDULERS = {
  /** Deletes result files past their expiry. */
  expireResults: 'expire-results',
  /** Re-queues live tasks whose job went missing (a lost enqueue, a job failed by the stall limit). */
  reconcileTasks: 'reconcile-tasks',
} as const;

const DAY_SECONDS = 24 * 3600;
const WEEK_SECONDS = 7 * 24 * 3600;

/** Every worker shares the lock and stall settings (see WorkerDefaults and docs/reliability.md). */
const takeover = (c: QueueConfig) => ({ lockDuration: c.WORKER_LOCK_MS, stalledInterval: c.WORKER_STALLED_INTERVAL_MS });

export const QUEUES = {
  tasks: {
    name: 'video-tasks',
    payload: taskJobSchema,
    // A step that throws is retried; waiting for an upstream is a re-delay and costs no attempt.
    // Ended tasks' jobs stay a while for the queue dashboard (a failed task's job is failed on purpose).
    jobOptions: () => ({
      attempts: 8,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { age: DAY_SECONDS, count: 2000 },
      removeOnFail: { age: WEEK_SECONDS, count: 10_000 },
    }),
    // A task job lives for the whole task (submit, every poll, finalize), so it may outlive several
    // worker deaths; past five the job fails and the reconciler queues the task again.
    worker: (c) => ({ concurrency: c.WORKER_CONCURRENCY, ...takeover(c), maxStalledCount: 5 }),
    schedulers: [],
  } satisfies QueueSpec<TaskJob>,
  cancels: {
    name: 'task-cancels',
    payload: cancelJobSchema,
    jobOptions: () => ({
      attempts: 6,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: true,
      removeOnFail: { age: WEEK_SECONDS, count: 10_000 },
    }),
    worker: (c) => ({ concurrency: 10, ...takeover(c), maxStalledCount: 3 }),
    schedulers: [],
  } satisfies QueueSpec<CancelJob>,
  batches: {
    name: 'video-batches',
    payload: batchJobSchema,
    // A step that throws (Postgres or storage away) is retried; watching a running batch is a re-delay.
    jobOptions: () => ({
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { age: WEEK_SECONDS, count: 1000 },
    }),
    // Validation streams a file of up to 50,000 lines: two at a time per process is plenty.
    worker: (c) => ({ concurrency: 2, ...takeover(c), maxStalledCount: 5 }),
    schedulers: [],
  } satisfies QueueSpec<BatchJob>,
  webhooks: {
    name: 'webhooks',
    payload: webhookJobSchema,
    // Exponential backoff over hours by default (30 s × 2^n, 12 attempts ≈ 34 h in all). Finished
    // jobs are kept a week: while a job exists its id cannot be queued again, which is what makes
    // a re-emitted event a no-op.
    jobOptions: (c) => ({
      attempts: c.WEBHOOK_MAX_ATTEMPTS,
      backoff: { type: 'exponential', delay: c.WEBHOOK_BACKOFF_MS },
      removeOnComplete: { age: WEEK_SECONDS },
      removeOnFail: { age: WEEK_SECONDS },
    }),
    // Its own concurrency: a slow or dead receiver holds at most WEBHOOK_CONCURRENCY webhook slots
    // for WEBHOOK_TIMEOUT_MS each, and never a task slot.
    worker: (c) => ({ concurrency: c.WEBHOOK_CONCURRENCY, ...takeover(c), maxStalledCount: 3 }),
    schedulers: [],
  } satisfies QueueSpec<WebhookJob>,
  maintenance: {
    name: 'maintenance',
    payload: maintenanceJobSchema,
    jobOptions: () => ({ attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } }),
    // Two, so a reconcile never waits behind a long expiry sweep in the same process.
    worker: (c) => ({ concurrency: 2, ...takeover(c), maxStalledCount: 1 }),
    // Schedulers, not timers: however many workers run, one run per interval happens in total.
    schedulers: [
      { id: SCHEDULERS.expireResults, every: (c) => c.WORKER_EXPIRY_SWEEP_INTERVAL_MS },
      { id: SCHEDULERS.reconcileTasks, every: (c) => c.WORKER_RECONCILE_INTERVAL_MS },
    ],
  } satisfies QueueSpec<MaintenanceJob>,
} as const;

export type QueueKey = keyof typeof QUEUES;

/** The queue names (the dashboard and metrics list every one). */
export const QUEUE_NAMES = {
  tasks: QUEUES.tasks.name,
  cancels: QUEUES.cancels.name,
  batches: QUEUES.batches.name,
  webhooks: QUEUES.webhooks.name,
  maintenance: QUEUES.maintenance.name,
} as const;

/** The payload type of a catalog queue's jobs. */
export type PayloadOf<K extends QueueKey> = z.infer<(typeof QUEUES)[K]['payload']>;

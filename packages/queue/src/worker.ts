import { queueEvents, type Logger } from '@reelay/observability';
import { UnrecoverableError, Worker, type Processor, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import type { QueueConfig, QueueSpec, WorkerDefaults } from './catalog';
import { errorListener } from './events';

export interface RegisterWorkerOptions {
  connection: Redis;
  prefix: string;
  config: QueueConfig;
  logger: Logger;
  /** Settings that differ from the catalog's for this process (tests, tools). */
  overrides?: Partial<WorkerDefaults>;
}

/**
 * Thrown by a task job whose task ended failed, so the job shows under Failed on the queue
 * dashboard with the task's error. Not trouble of the queue: neither counted nor logged as such
 * (the task's own end line says why it failed), and never retried.
 */
export class TaskFailedError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'TaskFailedError';
  }
}

/**
 * The one way a BullMQ worker is made: settings from the catalog entry, and every event that
 * means trouble logged and counted (reelay_queue_events_total{queue, event}):
 * - `error`: Redis or BullMQ failed outside a job (logged, repeats folded);
 * - `failed`: an attempt threw (BullMQ retries it while attempts remain);
 * - `stalled`: a job's worker stopped renewing its lock (it died) and the job was taken back;
 * - `lock_renewal_failed`: this process could not renew a lock, so another worker may take the
 *   job over while this one still runs it (every step is safe to run twice).
 */
export function registerWorker<T>(spec: QueueSpec<T>, processor: Processor<T>, opts: RegisterWorkerOptions): Worker<T> {
  const settings = { ...spec.worker(opts.config), ...opts.overrides };
  // The name is stored on each job it takes (BullMQ's processedBy): which process holds a job.
  const worker = new Worker<T>(spec.name, processor, { connection: opts.connection, prefix: opts.prefix, name: workerName(), ...settings });
  const logger = opts.logger.child({ queue: spec.name });
  const count = (event: string) => queueEvents.inc({ queue: spec.name, event });
  worker.on('error', errorListener(spec.name, 'worker', opts.logger));
  worker.on('failed', (job, err) => {
    if (err instanceof TaskFailedError) return;
    count('failed');
    logger.warn({ err, jobId: job?.id, attempt: job?.attemptsMade, attempts: job?.opts.attempts }, 'job attempt failed');
  });
  worker.on('stalled', (jobId) => {
    count('stalled');
    logger.warn({ jobId }, 'job stalled: the worker holding it stopped renewing its lock; it is queued again');
  });
  worker.on('lockRenewalFailed', (jobIds) => {
    count('lock_renewal_failed');
    logger.warn({ jobIds }, 'could not renew job locks; another worker may take these jobs over');
  });
  return worker;
}

/** host:pid of this process, as BullMQ records it on the jobs it takes. */
const workerName = (): string => `${hostname()}:${process.pid}`;

/** Adds (or updates) the catalog entry's schedulers on `queue`; one switched off (every = 0) is removed. */
export async function upsertSchedulers(queue: Queue, spec: QueueSpec<unknown>, config: QueueConfig): Promise<void> {
  for (const scheduler of spec.schedulers) {
    const every = scheduler.every(config);
    if (every > 0) await queue.upsertJobScheduler(scheduler.id, { every }, { name: scheduler.id, data: {} });
    else await queue.removeJobScheduler(scheduler.id);
  }
}

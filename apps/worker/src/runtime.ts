import type { Config } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { createDb } from '@reelay/db';
import { ProviderRegistry } from '@reelay/providers';
import { createRedis, createTasksQueue, QUEUE_NAMES, type CancelJob, type TaskJob } from '@reelay/queue';
import { LocalStorage } from '@reelay/storage';
import { Queue, Worker } from 'bullmq';
import type { WorkerContext, WorkerMetrics } from './context';
import { createCancelProcessor } from './processors/cancel-processor';
import { createMaintenanceProcessor, EXPIRE_RESULTS_SCHEDULER } from './processors/maintenance-processor';
import { createTaskProcessor } from './processors/task-processor';
import { Admitter } from './admission';
import { reconcileTasks } from './reconcile';
import { TargetRouter } from './upstream/routing';
import { TargetGate } from './upstream/target-gate';

export interface WorkerRuntime {
  ctx: WorkerContext;
  close(): Promise<void>;
}

/** Starts the task worker and the periodic reconciler for one process. */
export async function startWorker(config: Config, opts: { metrics?: WorkerMetrics } = {}): Promise<WorkerRuntime> {
  const catalog = ModelCatalog.load(config.REELAY_MODELS_FILE);
  const upstreamRedis = createRedis(config.REDIS_URL, 'worker');
  const ctx: WorkerContext = {
    config,
    db: createDb(config.DATABASE_URL, config.WORKER_DB_POOL_SIZE),
    storage: new LocalStorage(config.REELAY_STORAGE_DIR),
    providers: new ProviderRegistry(config, catalog),
    catalog,
    media: { ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH },
    router: new TargetRouter(upstreamRedis, config.REELAY_QUEUE_PREFIX),
    gate: new TargetGate(upstreamRedis, config.REELAY_QUEUE_PREFIX),
    metrics: opts.metrics,
  };
  const connection = createRedis(config.REDIS_URL, 'worker');
  const queue = createTasksQueue(connection, config.REELAY_QUEUE_PREFIX);
  const worker = new Worker<TaskJob>(QUEUE_NAMES.tasks, createTaskProcessor(ctx), {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: 5,
  });
  worker.on('error', (err) => console.error(`worker error: ${err.message}`));
  const cancelWorker = new Worker<CancelJob>(QUEUE_NAMES.cancels, createCancelProcessor(ctx), {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    concurrency: 10,
  });
  cancelWorker.on('error', (err) => console.error(`cancel worker error: ${err.message}`));
  const admitter = new Admitter(ctx, queue, createRedis(config.REDIS_URL, 'worker'));
  ctx.wakeAdmission = () => admitter.wake();
  await admitter.start();

  // A job scheduler, not a timer: however many workers run, one sweep per interval runs in total.
  const maintenance = new Queue(QUEUE_NAMES.maintenance, {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    defaultJobOptions: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
  });
  maintenance.on('error', () => undefined);
  await maintenance.upsertJobScheduler(EXPIRE_RESULTS_SCHEDULER, { every: config.WORKER_EXPIRY_SWEEP_INTERVAL_MS }, { name: EXPIRE_RESULTS_SCHEDULER });
  const maintenanceWorker = new Worker(QUEUE_NAMES.maintenance, createMaintenanceProcessor(ctx), {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    concurrency: 1,
  });
  maintenanceWorker.on('error', (err) => console.error(`maintenance worker error: ${err.message}`));

  let reconciling = false;
  const quietMs = Math.max(config.POLL_MAX_MS * 4, config.WORKER_LOCK_MS * 2);
  const timer = setInterval(() => {
    if (reconciling) return;
    reconciling = true;
    reconcileTasks(ctx, queue, quietMs)
      .catch((err: Error) => console.error(`reconcile failed: ${err.message}`))
      .finally(() => (reconciling = false));
  }, config.WORKER_RECONCILE_INTERVAL_MS);
  timer.unref();

  return {
    ctx,
    async close() {
      clearInterval(timer);
      await admitter.close();
      await Promise.all([worker.close(), cancelWorker.close(), maintenanceWorker.close()]);
      await maintenance.close();
      await queue.close();
      connection.disconnect();
      upstreamRedis.disconnect();
      await ctx.db.$disconnect();
    },
  };
}

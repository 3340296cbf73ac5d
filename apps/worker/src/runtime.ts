import type { Config } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { createDb } from '@reelay/db';
import { createProviders } from '@reelay/providers';
import { createRedis, createTasksQueue, QUEUE_NAMES, type CancelJob, type TaskJob } from '@reelay/queue';
import { LocalStorage } from '@reelay/storage';
import { Worker } from 'bullmq';
import type { WorkerContext } from './context';
import { createCancelProcessor } from './processors/cancel-processor';
import { createTaskProcessor } from './processors/task-processor';
import { Admitter } from './admission';
import { reconcileTasks } from './reconcile';

export interface WorkerRuntime {
  ctx: WorkerContext;
  close(): Promise<void>;
}

/** Starts the task worker and the periodic reconciler for one process. */
export async function startWorker(config: Config): Promise<WorkerRuntime> {
  const ctx: WorkerContext = {
    config,
    db: createDb(config.DATABASE_URL),
    storage: new LocalStorage(config.REELAY_STORAGE_DIR),
    providers: createProviders(config),
    catalog: ModelCatalog.load(config.REELAY_MODELS_FILE),
    media: { ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH },
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
      await Promise.all([worker.close(), cancelWorker.close()]);
      await queue.close();
      connection.disconnect();
      await ctx.db.$disconnect();
    },
  };
}

import type { Server } from 'node:http';
import type { Config } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { createDb } from '@reelay/db';
import { createLogger, pollLag, type Logger } from '@reelay/observability';
import { instrumentProvider, PROVIDER_FACTORIES, ProviderRegistry, type ProviderFactory } from '@reelay/providers';
import { createRedis, createTasksQueue, createWebhooksQueue, QUEUE_NAMES, type CancelJob, type TaskJob, type WebhookJob } from '@reelay/queue';
import { LocalStorage } from '@reelay/storage';
import { Queue, Worker } from 'bullmq';
import type { WorkerContext, WorkerMetrics } from './context';
import { startOpsServer } from './ops-server';
import { createCancelProcessor } from './processors/cancel-processor';
import { createMaintenanceProcessor, EXPIRE_RESULTS_SCHEDULER } from './processors/maintenance-processor';
import { createTaskProcessor } from './processors/task-processor';
import { Admitter } from './admission';
import { createWebhookProcessor } from './processors/webhook-processor';
import { reconcileTasks } from './reconcile';
import { sweepLeftovers } from './maintenance/sweep-leftovers';
import { TargetRouter } from './upstream/routing';
import { TargetGate } from './upstream/target-gate';

export interface WorkerRuntime {
  ctx: WorkerContext;
  /** Where /metrics, /healthz and /readyz of this worker answer (null when WORKER_METRICS_PORT is unset). */
  opsUrl: string | null;
  close(): Promise<void>;
}

export interface WorkerOptions {
  logger?: Logger;
  /** Serve /metrics, /healthz, /readyz (default true). */
  opsServer?: boolean;
  /** Extra observers (benchmarks); Prometheus metrics are recorded either way. */
  metrics?: WorkerMetrics;
}

/** Every adapter wrapped so its upstream calls are timed and counted (reelay_upstream_*). */
const INSTRUMENTED_FACTORIES: Record<string, ProviderFactory> = Object.fromEntries(
  Object.entries(PROVIDER_FACTORIES).map(([name, factory]) => [name, ((init) => instrumentProvider(factory(init))) as ProviderFactory]),
);

/** Starts the task, cancel and webhook workers, the periodic reconciler and the ops listener. */
export async function startWorker(config: Config, opts: WorkerOptions = {}): Promise<WorkerRuntime> {
  const logger = opts.logger ?? createLogger({ name: 'reelay-worker', level: config.LOG_LEVEL });
  const catalog = ModelCatalog.load(config.REELAY_MODELS_FILE);
  const upstreamRedis = createRedis(config.REDIS_URL, 'worker');
  const connection = createRedis(config.REDIS_URL, 'worker');
  const queue = createTasksQueue(connection, config.REELAY_QUEUE_PREFIX);
  const webhooksQueue = createWebhooksQueue(connection, config.REELAY_QUEUE_PREFIX, config.WEBHOOK_MAX_ATTEMPTS, config.WEBHOOK_BACKOFF_MS);
  const extra = opts.metrics;
  const ctx: WorkerContext = {
    config,
    db: createDb(config.DATABASE_URL, config.WORKER_DB_POOL_SIZE),
    storage: new LocalStorage(config.REELAY_STORAGE_DIR),
    providers: new ProviderRegistry(config, catalog, INSTRUMENTED_FACTORIES),
    catalog,
    media: { ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH },
    router: new TargetRouter(upstreamRedis, config.REELAY_QUEUE_PREFIX),
    gate: new TargetGate(upstreamRedis, config.REELAY_QUEUE_PREFIX),
    metrics: {
      pollLag(lagMs) {
        pollLag.observe(Math.max(0, lagMs) / 1000);
        extra?.pollLag(lagMs);
      },
    },
    logger,
    webhooksQueue,
  };
  const worker = new Worker<TaskJob>(QUEUE_NAMES.tasks, createTaskProcessor(ctx), {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: 5,
  });
  worker.on('error', (err) => logger.error({ err }, 'task worker error'));
  // A separate queue and worker with its own concurrency: a slow or dead receiver holds at most
  // WEBHOOK_CONCURRENCY webhook slots for WEBHOOK_TIMEOUT_MS each, and never a task slot.
  const webhookWorker = new Worker<WebhookJob>(QUEUE_NAMES.webhooks, createWebhookProcessor(ctx), {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    concurrency: config.WEBHOOK_CONCURRENCY,
    lockDuration: Math.max(config.WORKER_LOCK_MS, config.WEBHOOK_TIMEOUT_MS * 2),
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
  });
  webhookWorker.on('error', (err) => logger.error({ err }, 'webhook worker error'));
  const cancelWorker = new Worker<CancelJob>(QUEUE_NAMES.cancels, createCancelProcessor(ctx), {
    connection,
    prefix: config.REELAY_QUEUE_PREFIX,
    concurrency: 10,
  });
  cancelWorker.on('error', (err) => logger.error({ err }, 'cancel worker error'));
  const admitter = new Admitter(ctx, queue, createRedis(config.REDIS_URL, 'worker'));
  ctx.wakeAdmission = () => admitter.slotFreed();
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
  maintenanceWorker.on('error', (err) => logger.error({ err }, 'maintenance worker error'));

  // Leftovers live on this machine's disk, so each process sweeps its own (a timer, not a shared
  // scheduler), once at start too: a restart after a kill is when there is most to reclaim.
  const sweep = () =>
    void sweepLeftovers(ctx, config.WORKER_LEFTOVER_MAX_AGE_MS)
      .then((n) => (n.tempFiles > 0 || n.providerState > 0) && logger.info(n, 'swept leftovers of stopped workers'))
      .catch((err: Error) => logger.error({ err }, 'leftover sweep failed'));
  const sweepTimer = config.WORKER_LEFTOVER_SWEEP_INTERVAL_MS > 0 ? setInterval(sweep, config.WORKER_LEFTOVER_SWEEP_INTERVAL_MS) : undefined;
  sweepTimer?.unref();
  if (sweepTimer) sweep();

  let reconciling = false;
  const quietMs = Math.max(config.POLL_MAX_MS * 4, config.WORKER_LOCK_MS * 2);
  // 0 switches the reconciler off (a worker sharing its database with other deployments).
  const timer = setInterval(() => {
    if (reconciling || config.WORKER_RECONCILE_INTERVAL_MS === 0) return;
    reconciling = true;
    reconcileTasks(ctx, queue, quietMs)
      .then((n) => n > 0 && logger.info({ requeued: n }, 'reconciled tasks without a job'))
      .catch((err: Error) => logger.error({ err }, 'reconcile failed'))
      .finally(() => (reconciling = false));
  }, config.WORKER_RECONCILE_INTERVAL_MS || 60_000);
  timer.unref();

  let ops: { server: Server; url: string } | null = null;
  if (opts.opsServer !== false) {
    try {
      ops = await startOpsServer({
        host: config.WORKER_METRICS_HOST,
        port: config.WORKER_METRICS_PORT,
        readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
        readiness: { postgres: () => ctx.db.$queryRaw`SELECT 1`, redis: () => connection.ping() },
      });
    } catch (err) {
      // A taken port must not stop the work itself (two workers on one host); probes will show it.
      logger.error({ err, port: config.WORKER_METRICS_PORT }, 'metrics listener could not start; worker runs without /metrics');
    }
  }

  return {
    ctx,
    opsUrl: ops?.url ?? null,
    // Order: stop taking jobs and let held ones finish (a task step is short: a submit or one
    // poll; waiting is a delayed job), then queues, then Redis, then Postgres, then the listener.
    async close() {
      clearInterval(timer);
      clearInterval(sweepTimer);
      await admitter.close();
      await Promise.all([worker.close(), cancelWorker.close(), maintenanceWorker.close(), webhookWorker.close()]);
      await Promise.all([queue.close(), webhooksQueue.close(), maintenance.close()]);
      connection.disconnect();
      upstreamRedis.disconnect();
      await ctx.db.$disconnect();
      if (ops) await new Promise<void>((resolve) => ops!.server.close(() => resolve()));
      logger.flush?.();
    },
  };
}

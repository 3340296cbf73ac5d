import type { Server } from 'node:http';
import type { Config } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { createDb, pingDatabase } from '@reelay/db';
import { createLogger, pollLag, type Logger } from '@reelay/observability';
import { instrumentProvider, PROVIDER_FACTORIES, ProviderRegistry, type ProviderFactory } from '@reelay/providers';
import { createQueue, createRedis, QUEUES, registerWorker, upsertSchedulers, wakeTask, type PayloadOf, type QueueKey, type QueueSpec } from '@reelay/queue';
import { createStorage } from '@reelay/storage';
import type { Processor, Queue } from 'bullmq';
import { Admitter } from './admission';
import type { WorkerContext, WorkerMetrics } from './context';
import { startOpsServer } from './ops-server';
import { createBatchProcessor } from './processors/batch-processor';
import { createCancelProcessor } from './processors/cancel-processor';
import { createMaintenanceProcessor } from './processors/maintenance-processor';
import { createTaskProcessor } from './processors/task-processor';
import { createWebhookProcessor } from './processors/webhook-processor';
import { sweepLeftovers } from './maintenance/sweep-leftovers';
import { startRecovery } from './recovery';
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

const QUEUE_KEYS = Object.keys(QUEUES) as QueueKey[];

/** Every adapter wrapped so its upstream calls are timed and counted (reelay_upstream_*). */
const INSTRUMENTED_FACTORIES: Record<string, ProviderFactory> = Object.fromEntries(
  Object.entries(PROVIDER_FACTORIES).map(([name, factory]) => [name, ((init) => instrumentProvider(factory(init))) as ProviderFactory]),
);

/**
 * Starts a worker for every queue in the catalog, its schedulers, admission, the watch for Redis
 * data loss, and the ops listener.
 */
export async function startWorker(config: Config, opts: WorkerOptions = {}): Promise<WorkerRuntime> {
  const logger = opts.logger ?? createLogger({ name: 'reelay-worker', level: config.LOG_LEVEL });
  const prefix = config.REELAY_QUEUE_PREFIX;
  const catalog = ModelCatalog.load(config.REELAY_MODELS_FILE);
  const upstreamRedis = createRedis(config.REDIS_URL, 'worker');
  const connection = createRedis(config.REDIS_URL, 'worker');
  const queues = {
    tasks: createQueue(QUEUES.tasks, connection, prefix, config, logger),
    cancels: createQueue(QUEUES.cancels, connection, prefix, config, logger),
    batches: createQueue(QUEUES.batches, connection, prefix, config, logger),
    webhooks: createQueue(QUEUES.webhooks, connection, prefix, config, logger),
    maintenance: createQueue(QUEUES.maintenance, connection, prefix, config, logger),
  } satisfies Record<QueueKey, Queue>;
  const extra = opts.metrics;
  const ctx: WorkerContext = {
    config,
    db: createDb(config.DATABASE_URL, config.WORKER_DB_POOL_SIZE),
    storage: createStorage(config),
    providers: new ProviderRegistry(config, catalog, INSTRUMENTED_FACTORIES),
    catalog,
    media: { ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH },
    router: new TargetRouter(upstreamRedis, prefix),
    gate: new TargetGate(upstreamRedis, prefix),
    metrics: {
      pollLag(lagMs) {
        pollLag.observe(Math.max(0, lagMs) / 1000);
        extra?.pollLag(lagMs);
      },
    },
    logger,
    webhooksQueue: queues.webhooks,
    cancelsQueue: queues.cancels,
  };

  const processors: { [K in QueueKey]: Processor<PayloadOf<K>> } = {
    tasks: createTaskProcessor(ctx, queues.tasks, upstreamRedis),
    cancels: createCancelProcessor(ctx),
    batches: createBatchProcessor(ctx),
    webhooks: createWebhookProcessor(ctx),
    maintenance: createMaintenanceProcessor(ctx, queues.tasks),
  };
  const workers = QUEUE_KEYS.map((key) =>
    registerWorker(QUEUES[key] as QueueSpec<unknown>, processors[key] as Processor<unknown>, { connection, prefix, config, logger }),
  );
  // Providers that see a task move on by themselves (a local render exiting) wake it at once.
  for (const provider of new Set(ctx.providers.keys().map((key) => ctx.providers.get(key)))) {
    provider?.onTaskChange?.((taskId) => {
      void wakeTask(queues.tasks, upstreamRedis, taskId).catch((err: Error) =>
        logger.warn({ err, taskId }, 'could not wake a task; its scheduled poll will see it'),
      );
    });
  }
  const restoreSchedulers = async () => {
    for (const key of QUEUE_KEYS) await upsertSchedulers(queues[key] as Queue, QUEUES[key] as QueueSpec<unknown>, config);
  };
  await restoreSchedulers();

  const admitter = new Admitter(ctx, queues.tasks, createRedis(config.REDIS_URL, 'worker'), connection);
  ctx.wakeAdmission = (byBatch) => admitter.slotFreed(byBatch);
  await admitter.start();

  // Redis holds only work to do: whenever it lost some, every live task gets its job back.
  const recovery = await startRecovery(ctx, { redis: connection, tasksQueue: queues.tasks, restoreSchedulers });

  // Leftovers live on this machine's disk, so each process sweeps its own (a timer, not a shared
  // scheduler), once at start too: a restart after a kill is when there is most to reclaim.
  const sweep = () =>
    void sweepLeftovers(ctx, config.WORKER_LEFTOVER_MAX_AGE_MS)
      .then((n) => (n.tempFiles > 0 || n.providerState > 0) && logger.info(n, 'swept leftovers of stopped workers'))
      .catch((err: Error) => logger.error({ err }, 'leftover sweep failed'));
  const sweepTimer = config.WORKER_LEFTOVER_SWEEP_INTERVAL_MS > 0 ? setInterval(sweep, config.WORKER_LEFTOVER_SWEEP_INTERVAL_MS) : undefined;
  sweepTimer?.unref();
  if (sweepTimer) sweep();

  let ops: { server: Server; url: string } | null = null;
  if (opts.opsServer !== false) {
    try {
      ops = await startOpsServer({
        host: config.WORKER_METRICS_HOST,
        port: config.WORKER_METRICS_PORT,
        readinessTimeoutMs: config.READINESS_TIMEOUT_MS,
        readiness: { postgres: () => pingDatabase(ctx.db), redis: () => connection.ping() },
        recovery: () => recovery.status(),
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
      clearInterval(sweepTimer);
      await Promise.all([recovery.close(), admitter.close()]);
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(Object.values(queues).map((q) => q.close()));
      connection.disconnect();
      upstreamRedis.disconnect();
      await ctx.db.$disconnect();
      if (ops) await new Promise<void>((resolve) => ops!.server.close(() => resolve()));
      logger.flush?.();
    },
  };
}

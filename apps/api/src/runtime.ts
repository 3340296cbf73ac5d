import type { Server, ServerResponse } from 'node:http';
import type { Config } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { createDb, ensureBootstrapKey, loadSigningSecret } from '@reelay/db';
import { ProviderRegistry } from '@reelay/providers';
import { createLogger, type Logger } from '@reelay/observability';
import { createQueue, createRedis, QUEUES, type QueueSpec } from '@reelay/queue';
import { createStorage } from '@reelay/storage';
import { createApp } from './app';
import { guardHttpServer } from './http-guard';
import type { ApiDeps } from './deps';
import { ApiKeyCache } from './services/api-key-cache';

export interface ApiRuntime {
  deps: ApiDeps;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function createApiDeps(config: Config, logger?: Logger): ApiDeps {
  const log = logger ?? createLogger({ name: 'reelay-api', level: config.LOG_LEVEL });
  const redis = createRedis(config.REDIS_URL, 'api');
  const prefix = config.REELAY_QUEUE_PREFIX;
  const tasksQueue = createQueue(QUEUES.tasks, redis, prefix, config, log);
  const cancelsQueue = createQueue(QUEUES.cancels, redis, prefix, config, log);
  const batchesQueue = createQueue(QUEUES.batches, redis, prefix, config, log);
  // Every queue of the catalog, so one added there shows up on the dashboard and in metrics.
  const otherQueues = Object.values(QUEUES)
    .filter((spec) => spec.name !== QUEUES.tasks.name && spec.name !== QUEUES.cancels.name && spec.name !== QUEUES.batches.name)
    .map((spec) => createQueue(spec as QueueSpec<unknown>, redis, prefix, config, log));
  const db = createDb(config.DATABASE_URL);
  const catalog = ModelCatalog.load(config.REELAY_MODELS_FILE);
  let providers: ProviderRegistry | undefined;
  return {
    config,
    db,
    redis,
    tasksQueue,
    cancelsQueue,
    batchesQueue,
    storage: createStorage(config),
    catalog,
    logger: log,
    queues: [tasksQueue, cancelsQueue, batchesQueue, ...otherQueues],
    apiKeys: new ApiKeyCache(db, redis, config.REELAY_QUEUE_PREFIX, config.REELAY_AUTH_CACHE_MS),
    signingSecret: config.REELAY_SIGNING_SECRET ?? '',
    providers: () => (providers ??= new ProviderRegistry(config, catalog)),
  };
}

/**
 * Starts the HTTP server. close() stops accepting, lets in-flight requests finish, then closes
 * queues, Redis and Postgres, in that order.
 */
export async function startApi(config: Config, opts: { logger?: Logger } = {}): Promise<ApiRuntime> {
  const deps = createApiDeps(config, opts.logger);
  if (config.REELAY_BOOTSTRAP_KEY) await ensureBootstrapKey(deps.db, config.REELAY_BOOTSTRAP_KEY);
  deps.signingSecret = await loadSigningSecret(deps.db, config.REELAY_SIGNING_SECRET);
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
    s.once('error', reject);
  });
  guardHttpServer(server);
  // Responses still being produced when shutdown starts tell their client to close the
  // connection, and each connection is closed as soon as its response is done, so draining ends
  // when the last request does rather than when keep-alive timers run out.
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  server.on('request', (_req, res: ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  return {
    deps,
    server,
    url: `http://${config.HOST}:${port}`,
    async close() {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.all(deps.queues.map((q) => q.close()));
      deps.redis.disconnect();
      await deps.db.$disconnect();
      deps.logger.flush?.();
    },
  };
}

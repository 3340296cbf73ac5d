import type { Server } from 'node:http';
import type { Config } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { createDb, ensureBootstrapKey, loadSigningSecret } from '@reelay/db';
import { createCancelsQueue, createRedis, createTasksQueue } from '@reelay/queue';
import { LocalStorage } from '@reelay/storage';
import { createApp } from './app';
import type { ApiDeps } from './deps';
import { ApiKeyCache } from './services/api-key-cache';

export interface ApiRuntime {
  deps: ApiDeps;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export function createApiDeps(config: Config): ApiDeps {
  const redis = createRedis(config.REDIS_URL, 'api');
  const db = createDb(config.DATABASE_URL);
  return {
    config,
    db,
    redis,
    tasksQueue: createTasksQueue(redis, config.REELAY_QUEUE_PREFIX),
    cancelsQueue: createCancelsQueue(redis, config.REELAY_QUEUE_PREFIX),
    storage: new LocalStorage(config.REELAY_STORAGE_DIR),
    catalog: ModelCatalog.load(config.REELAY_MODELS_FILE),
    apiKeys: new ApiKeyCache(db, redis, config.REELAY_QUEUE_PREFIX, config.REELAY_AUTH_CACHE_MS),
    signingSecret: config.REELAY_SIGNING_SECRET ?? '',
  };
}

/** Starts the HTTP server; close() stops accepting, lets in-flight requests finish, then disconnects. */
export async function startApi(config: Config): Promise<ApiRuntime> {
  const deps = createApiDeps(config);
  if (config.REELAY_BOOTSTRAP_KEY) await ensureBootstrapKey(deps.db, config.REELAY_BOOTSTRAP_KEY);
  deps.signingSecret = await loadSigningSecret(deps.db, config.REELAY_SIGNING_SECRET);
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  return {
    deps,
    server,
    url: `http://${config.HOST}:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await deps.tasksQueue.close();
      await deps.cancelsQueue.close();
      deps.redis.disconnect();
      await deps.db.$disconnect();
    },
  };
}

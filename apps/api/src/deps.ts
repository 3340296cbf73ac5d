import type { Config } from '@reelay/config';
import type { ModelCatalog } from '@reelay/core';
import type { Db } from '@reelay/db';
import type { ProviderRegistry } from '@reelay/providers';
import type { Logger } from '@reelay/observability';
import type { BatchJob, CancelJob, TaskJob } from '@reelay/queue';
import type { ObjectStorage } from '@reelay/storage';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ApiKeyCache } from './services/api-key-cache';

/** Everything the HTTP layer talks to, built once in main.ts (or by a test). */
export interface ApiDeps {
  config: Config;
  db: Db;
  redis: Redis;
  tasksQueue: Queue<TaskJob>;
  /** Deleted tasks whose upstream work a worker must stop (the API never calls upstreams). */
  cancelsQueue: Queue<CancelJob>;
  /** One job per batch (validation, task creation, results). */
  batchesQueue: Queue<BatchJob>;
  storage: ObjectStorage;
  catalog: ModelCatalog;
  logger: Logger;
  /** Every Reelay queue (tasks included), for the dashboard and queue metrics. */
  queues: Queue[];
  apiKeys: ApiKeyCache;
  /** HMAC secret for signed content links; resolved at start (see loadSigningSecret). */
  signingSecret: string;
  /** The provider instances, built on first use (only upstream webhooks need them here). */
  providers(): ProviderRegistry;
}

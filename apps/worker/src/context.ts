import type { Config } from '@reelay/config';
import type { ModelCatalog } from '@reelay/core';
import type { Db } from '@reelay/db';
import type { MediaTools, Provider } from '@reelay/providers';
import type { Logger } from '@reelay/observability';
import type { WebhookJob } from '@reelay/queue';
import type { LocalStorage } from '@reelay/storage';
import type { Queue } from 'bullmq';

/** What the pipeline steps need; built once per worker process. */
export interface WorkerContext {
  config: Config;
  db: Db;
  storage: LocalStorage;
  providers: Map<string, Provider>;
  catalog: ModelCatalog;
  media: MediaTools;
  logger: Logger;
  /** Where terminal transitions queue their client webhooks. */
  webhooksQueue: Queue<WebhookJob>;
  /** The request that created the task being worked on (per-job contexts only), for log correlation. */
  requestId?: string;
}

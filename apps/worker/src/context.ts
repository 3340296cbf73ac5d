import type { Config } from '@reelay/config';
import type { ModelCatalog } from '@reelay/core';
import type { Db } from '@reelay/db';
import type { MediaTools, ProviderRegistry } from '@reelay/providers';
import type { LocalStorage } from '@reelay/storage';

/** What the pipeline steps need; built once per worker process. */
export interface WorkerContext {
  config: Config;
  db: Db;
  storage: LocalStorage;
  providers: ProviderRegistry;
  catalog: ModelCatalog;
  media: MediaTools;
}

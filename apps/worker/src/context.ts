import type { Config } from '@reelay/config';
import type { ModelCatalog } from '@reelay/core';
import type { Db } from '@reelay/db';
import type { MediaTools, ProviderRegistry } from '@reelay/providers';
import type { LocalStorage } from '@reelay/storage';
import type { TargetRouter } from './upstream/routing';
import type { TargetGate } from './upstream/target-gate';

/** Observations a benchmark or an operator may want; the pipeline reports into it when set. */
export interface WorkerMetrics {
  /** A poll ran `lagMs` after the time it was scheduled for. */
  pollLag(lagMs: number): void;
}

/** What the pipeline steps need; built once per worker process. */
export interface WorkerContext {
  config: Config;
  db: Db;
  storage: LocalStorage;
  providers: ProviderRegistry;
  catalog: ModelCatalog;
  media: MediaTools;
  router: TargetRouter;
  gate: TargetGate;
  metrics?: WorkerMetrics;
}

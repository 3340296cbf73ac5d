import type { Config } from '@reelay/config';
import type { ModelCatalog } from '@reelay/core';
import type { Db } from '@reelay/db';
import type { MediaTools, Provider } from '@reelay/providers';
import type { LocalStorage } from '@reelay/storage';

/** What the pipeline steps need; built once per worker process. */
export interface WorkerContext {
  config: Config;
  db: Db;
  storage: LocalStorage;
  providers: Map<string, Provider>;
  catalog: ModelCatalog;
  media: MediaTools;
  /** Asks the admission step to hand out slots now (a task of this process ended). */
  wakeAdmission?: () => void;
}

import type { Config } from '@reelay/config';
import type { ModelCatalog } from '@reelay/core';
import type { Db } from '@reelay/db';
import type { Logger } from '@reelay/observability';
import type { MediaTools, ProviderRegistry } from '@reelay/providers';
import type { CancelJob, WebhookJob } from '@reelay/queue';
import type { ObjectStorage } from '@reelay/storage';
import type { Queue } from 'bullmq';
import { CatalogOrder, type TargetRouter } from './upstream/routing';
import { NO_LIMITS, type UpstreamGate } from './upstream/target-gate';

/** Observations a benchmark or an operator may want; the pipeline reports into it when set. */
export interface WorkerMetrics {
  /** A poll ran `lagMs` after the time it was scheduled for. */
  pollLag(lagMs: number): void;
}

/** What a step shows on its job: progress (0-100), one log line per step, and the task's failure. */
interface JobReport {
  progress(percent: number): void;
  log(line: string): void;
  /** The step failed the task: its job then ends under Failed with this reason. */
  failed(reason: string): void;
}

/** What the pipeline steps need; built once per worker process. */
export interface WorkerContext {
  config: Config;
  db: Db;
  storage: ObjectStorage;
  providers: ProviderRegistry;
  catalog: ModelCatalog;
  media: MediaTools;
  logger: Logger;
  /** Where terminal transitions queue their client webhooks. */
  webhooksQueue: Queue<WebhookJob>;
  /** Where a batch's cancel or expiry queues the stop of its running tasks' upstream work. */
  cancelsQueue?: Queue<CancelJob>;
  /** The request that created the task being worked on (per-job contexts only), for log correlation. */
  requestId?: string;
  /** Shared (Redis) routing and limits; without them: catalog order, no limits (single-process tools, tests). */
  router?: TargetRouter;
  gate?: UpstreamGate;
  metrics?: WorkerMetrics;
  /** The task's job on the queue dashboard (per-job contexts only): its progress and log. Fire and forget. */
  job?: JobReport;
  /** Asks the admission step to hand out slots now (a task of this process ended; `byBatch`: a batch's task). */
  wakeAdmission?: (byBatch?: boolean) => void;
}

export const routerOf = (ctx: WorkerContext): Pick<TargetRouter, 'order'> => ctx.router ?? CatalogOrder;
export const gateOf = (ctx: WorkerContext): UpstreamGate => ctx.gate ?? NO_LIMITS;

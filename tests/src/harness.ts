import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiRuntime } from '@reelay/api';
import { parseConfig, type Config } from '@reelay/config';
import { createApiKey, createDatabaseIfMissing, createDb, migrate, rebuildIfMigratedElsewhere, type Db } from '@reelay/db';
import { createLogger, type Logger } from '@reelay/observability';
import { startWorker, type WorkerRuntime } from '@reelay/worker';
import { stopPreviewRenders, until } from '@reelay/testing';
import type OpenAI from 'openai';

export interface Stack {
  config: Config;
  api: ApiRuntime;
  worker: WorkerRuntime | null;
  url: string;
  db: Db;
  /** A fresh API key of this stack's own, and its id. */
  key: string;
  keyId: string;
  newKey(opts?: { dialect?: 'seed' | 'openai' }): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real Reelay on real Redis and Postgres: its own queue prefix and storage folder, so test
 * files run side by side without seeing each other's jobs.
 *
 * It lives with the end-to-end suites rather than in @reelay/testing because it starts the API
 * and the worker in-process: the kit sits below every package whose tests use it (the provider
 * adapters' included), and depending on the apps would make that a package cycle.
 */
/**
 * A database of the calling test file's own, created and migrated, next to the test database: for
 * suites whose reads span every key (operator search, console screenshots), where other files'
 * tasks would otherwise show.
 */
export async function ownDatabase(suffix: string): Promise<string> {
  const url = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_test');
  url.pathname = `${url.pathname}_${suffix}`;
  await createDatabaseIfMissing(url.toString());
  await rebuildIfMigratedElsewhere(url.toString());
  await migrate(url.toString());
  return url.toString();
}

export async function startStack(env: Record<string, string> = {}, opts: { worker?: boolean; logger?: Logger } = {}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-test-'));
  const config = parseConfig({
    ...process.env,
    NODE_ENV: 'test',
    PORT: '0',
    REELAY_QUEUE_PREFIX: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    REELAY_STORAGE_DIR: join(dir, 'storage'),
    POLL_MIN_MS: '200',
    POLL_MAX_MS: '1000',
    WORKER_RECONCILE_INTERVAL_MS: '1000',
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...env,
  });
  const logger = opts.logger ?? createLogger({ name: 'reelay-test', level: config.LOG_LEVEL });
  const api = await startApi(config, { logger });
  const worker = opts.worker === false ? null : await startWorker(config, { logger });
  const db = createDb(config.DATABASE_URL, 3);
  const newKey = async (o: { dialect?: 'seed' | 'openai' } = {}) => (await createApiKey(db, { name: 'test', statusDialect: o.dialect ?? null })).secret;
  const first = await createApiKey(db, { name: 'test', statusDialect: null });
  return {
    config,
    api,
    worker,
    url: api.url,
    db,
    key: first.secret,
    keyId: first.key.id,
    newKey,
    async close() {
      await worker?.close();
      await api.close();
      await db.$disconnect();
      // Its detached preview renders outlive its worker, and one still writing would fail the removal.
      stopPreviewRenders({ config });
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/**
 * Stops what is left of a batch at a test's end and waits until it has stopped. A batch of tiny
 * renders may already have completed (queued renders run in groups): nothing is left to stop then.
 */
export async function cancelBatchIfRunning(openai: OpenAI, batchId: string): Promise<void> {
  if ((await openai.batches.retrieve(batchId)).status === 'completed') return;
  await openai.batches.cancel(batchId);
  await until('the batch to be cancelled', async () => ['cancelled', 'completed'].includes((await openai.batches.retrieve(batchId)).status), 60_000);
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiRuntime } from '@reelay/api';
import { parseConfig, type Config } from '@reelay/config';
import { createApiKey, createDb, type Db } from '@reelay/db';
import { createLogger, type Logger } from '@reelay/observability';
import { startWorker, type WorkerRuntime } from '@reelay/worker';
import { Writable } from 'node:stream';

export interface Stack {
  config: Config;
  api: ApiRuntime;
  worker: WorkerRuntime | null;
  url: string;
  db: Db;
  /** A fresh API key of this stack's own. */
  key: string;
  newKey(opts?: { dialect?: 'seed' | 'openai' }): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real Reelay on real Redis and Postgres: its own queue prefix and storage folder, so test
 * files run side by side without seeing each other's jobs.
 */
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
  const newKey = async (o: { dialect?: 'seed' | 'openai' } = {}) =>
    (await createApiKey(db, { name: 'test', statusDialect: o.dialect ?? null })).secret;
  return {
    config,
    api,
    worker,
    url: api.url,
    db,
    key: await newKey(),
    newKey,
    async close() {
      await worker?.close();
      await api.close();
      await db.$disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function http(
  stack: { url: string },
  method: string,
  path: string,
  opts: { key?: string | null; json?: unknown; body?: string | Buffer | FormData; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any; bytes: Buffer }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(stack.url + path, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: unknown = null;
  if (bytes.length > 0 && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(bytes.toString('utf8'));
  return { status: res.status, headers: res.headers, body: parsed, bytes };
}

/** Polls GET /v1/videos/{id} until it ends; returns every progress value seen and the final object. */
export async function waitForVideo(stack: { url: string }, key: string, id: string, timeoutMs = 90_000) {
  const seen: number[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await http(stack, 'GET', `/v1/videos/${id}`, { key });
    if (res.status !== 200) throw new Error(`GET /v1/videos/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
    seen.push(res.body.progress);
    if (['completed', 'failed'].includes(res.body.status)) return { video: res.body, progress: seen };
    if (Date.now() > deadline) throw new Error(`video ${id} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** A logger whose JSON lines are kept in memory, to assert on what the stack logs. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: string[]; text(): string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ name: 'reelay-test', level, destination });
  return { logger, lines, text: () => lines.join('\n') };
}

/** Polls `fn` until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

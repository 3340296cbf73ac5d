import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { http, type Stack } from './harness';

export const ROOT = resolve(__dirname, '../..');
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** A catalog with one cheap, fast model, so tests can run many tasks on a busy machine. */
export function tinyCatalogFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'reelay-catalog-')), 'models.json');
  writeFileSync(
    file,
    JSON.stringify({
      defaultModel: 'tiny',
      models: [
        {
          id: 'tiny',
          targets: [{ provider: 'preview' }],
          duration: { min: 0.1, max: 10 },
          size: { width: { min: 64, max: 1280 }, height: { min: 64, max: 1280 } },
          fps: { min: 1, max: 30 },
          maxN: 2,
          pricing: [{ maxPixels: 128 * 128, microsPerSecond: 1_000 }, { microsPerSecond: 7_000 }],
          defaults: { duration: 1, width: 128, height: 128, fps: 10 },
        },
        {
          id: 'other',
          targets: [{ provider: 'preview' }],
          duration: { min: 0.1, max: 10 },
          size: { width: { min: 64, max: 1280 }, height: { min: 64, max: 1280 } },
          fps: { min: 1, max: 30 },
          defaults: { duration: 1, width: 128, height: 128, fps: 10 },
        },
      ],
    }),
  );
  return file;
}

export const TINY = { prompt: 'tiny', duration: 1, width: 128, height: 128, fps: 10 };

/** Creates a key through the admin API; returns its id and secret. */
export async function adminKey(stack: Stack, settings: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await http(stack, 'POST', '/admin/v1/keys', { key: ADMIN_TOKEN, json: { name: 'test', ...settings } });
  if (res.status !== 201) throw new Error(`admin create key answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { id: res.body.id, secret: res.body.key };
}

/** A real worker process on the stack's queue, database and storage, so it can be killed with SIGKILL. */
export function spawnWorker(stack: Stack, env: Record<string, string> = {}): ChildProcess {
  const c = stack.config;
  return spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], {
    cwd: ROOT,
    stdio: 'ignore',
    env: {
      ...process.env,
      DATABASE_URL: c.DATABASE_URL,
      REDIS_URL: c.REDIS_URL,
      REELAY_QUEUE_PREFIX: c.REELAY_QUEUE_PREFIX,
      REELAY_STORAGE_DIR: c.REELAY_STORAGE_DIR,
      REELAY_MODELS_FILE: c.REELAY_MODELS_FILE ?? '',
      POLL_MIN_MS: '200',
      POLL_MAX_MS: '500',
      WORKER_LOCK_MS: '3000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      WORKER_RECONCILE_INTERVAL_MS: '2000',
      WORKER_ADMISSION_INTERVAL_MS: '500',
      ...env,
    },
  });
}

export const exited = (c: ChildProcess): Promise<unknown> =>
  new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Startup time and memory of the API and the worker, run through tsx (TypeScript compiled at
 * load, as `pnpm start` does) and as the compiled bundles (`node apps/*\/dist/main.js`, what the
 * image runs), alternating in one run. Startup: spawn → /healthz answering 200. Memory: resident
 * set size (VmRSS) once ready and idle for a second. Usage (from the repo root, after
 * `pnpm run build`):
 *
 *   npm run bench:startup [-- --rounds 5]
 *
 * Uses DATABASE_URL / REDIS_URL like the server (migrating the database if needed), a bench-only
 * queue prefix and storage folder.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@reelay/config';
import { createDatabaseIfMissing, migrate } from '@reelay/db';
import { freePort, ROOT, spawnProcess, until } from '@reelay/testing';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 5);

type Role = 'api' | 'worker';
type Mode = 'tsx' | 'node';

const rssMbOf = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function once(role: Role, mode: Mode, env: Record<string, string>): Promise<{ startMs: number; rssMb: number }> {
  const port = await freePort();
  const script = mode === 'tsx' ? `apps/${role}/src/main.ts` : `apps/${role}/dist/main.js`;
  const args = mode === 'tsx' ? ['--import', 'tsx', script] : [script];
  const portEnv = role === 'api' ? { PORT: String(port), WORKER_METRICS_PORT: '0' } : { WORKER_METRICS_PORT: String(port) };
  const started = performance.now();
  const proc = spawnProcess(process.execPath, args, { env: { ...process.env, ...env, ...portEnv } });
  try {
    await until(
      `${role} (${mode}) /healthz`,
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`${role} (${mode}) exited:\n${proc.output()}`);
        return fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      60_000,
      10,
    );
    const startMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 1000));
    return { startMs, rssMb: rssMbOf(proc.child.pid!) };
  } finally {
    await proc.stop('SIGTERM');
  }
}

async function main(): Promise<void> {
  for (const role of ['api', 'worker'] as const) {
    if (!existsSync(join(ROOT, `apps/${role}/dist/main.js`))) throw new Error(`apps/${role}/dist/main.js is missing: run pnpm run build first`);
  }
  const config = parseConfig(process.env);
  await createDatabaseIfMissing(config.DATABASE_URL);
  await migrate(config.DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'reelay-bench-startup-'));
  const env = {
    REELAY_QUEUE_PREFIX: `bench-startup-${process.pid}`,
    REELAY_STORAGE_DIR: join(dir, 'storage'),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  const samples: Record<string, { startMs: number[]; rssMb: number[] }> = {};
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order each round so neither mode always runs on a warmer page cache.
      const modes: Mode[] = round % 2 ? ['node', 'tsx'] : ['tsx', 'node'];
      for (const role of ['api', 'worker'] as const) {
        for (const mode of modes) {
          const s = await once(role, mode, env);
          const k = `${role} ${mode}`;
          (samples[k] ??= { startMs: [], rssMb: [] }).startMs.push(s.startMs);
          samples[k].rssMb.push(s.rssMb);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`rounds: ${ROUNDS} (medians)`);
  console.log('process  run with            startup ms   RSS MB');
  for (const role of ['api', 'worker'] as const) {
    for (const mode of ['tsx', 'node'] as const) {
      const s = samples[`${role} ${mode}`]!;
      const how = mode === 'tsx' ? 'node --import tsx' : 'node dist/main.js';
      console.log(`${role.padEnd(8)} ${how.padEnd(19)} ${median(s.startMs).toFixed(0).padStart(10)}   ${median(s.rssMb).toFixed(1).padStart(6)}`);
    }
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);

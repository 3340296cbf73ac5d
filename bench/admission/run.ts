/**
 * Admission bench: the cost of one admission run (packages/db tasks/admission.ts) to the process
 * that runs it, against a bare round trip to Postgres through the same pool, in the same run.
 *
 * A real API process on its own database makes 3 keys with 3 waiting tasks each; then, --runs
 * times, every task is made waiting again (untimed) and one run admits 3 of them (timed: wall
 * time, and this process's CPU time from process.cpuUsage). The baseline is `SELECT 1` on a
 * client of the same pool, timed the same way.
 *
 *   npm run bench:admission [-- --runs 400]
 *
 * DATABASE_URL defaults to postgresql://postgres@127.0.0.1:5432/reelay_bench_admission (created and
 * migrated here); REDIS_URL to redis://127.0.0.1:6379 (a bench-only queue prefix).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admitWaitingTasks, createApiKey, createDatabaseIfMissing, createDb, migrate, poolOf } from '@reelay/db';
import { freePort, spawnApi, tinyCatalogFile, untilHealthy } from '@reelay/testing';
import { deleteKeyRows } from '../emulated-upstream';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', 400);
const WARMUP = 50;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_bench_admission';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Mean wall and CPU milliseconds of `step` over RUNS, after WARMUP untimed ones; `reset` runs untimed before each. */
async function measure(step: () => Promise<void>, reset: () => Promise<void>): Promise<{ wallMs: number; cpuMs: number }> {
  let wall = 0;
  let cpu = 0;
  for (let i = 0; i < WARMUP + RUNS; i++) {
    await reset();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await step();
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    if (i >= WARMUP) {
      wall += t1 - t0;
      cpu += (c.user + c.system) / 1000;
    }
  }
  return { wallMs: wall / RUNS, cpuMs: cpu / RUNS };
}

async function main(): Promise<void> {
  await createDatabaseIfMissing(DATABASE_URL);
  await migrate(DATABASE_URL);
  const db = createDb(DATABASE_URL, 2);
  const prefix = `bench-admission-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'reelay-bench-admission-'));
  const port = await freePort();
  const api = spawnApi({
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL,
    REDIS_URL,
    REELAY_QUEUE_PREFIX: prefix,
    REELAY_STORAGE_DIR: dir,
    REELAY_MODELS_FILE: tinyCatalogFile(),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  });
  const url = `http://127.0.0.1:${port}`;
  const keyIds: string[] = [];
  try {
    await untilHealthy(url, 60_000);
    const ids: string[] = [];
    for (const name of ['A', 'B', 'C']) {
      const { key, secret } = await createApiKey(db, { name: `bench-admission-${name}`, statusDialect: null });
      keyIds.push(key.id);
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${url}/v1/videos`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'tiny', prompt: `${name} ${i}`, duration: 1, width: 64, height: 64, fps: 10 }),
        });
        if (!res.ok) throw new Error(`POST /v1/videos answered ${res.status}`);
        ids.push(((await res.json()) as { id: string }).id);
      }
    }
    const pool = poolOf(db);
    const rewait = async () => void (await pool.query('UPDATE tasks SET admitted_at = NULL WHERE id = ANY($1)', [ids]));
    const bare = await measure(
      async () => void (await pool.query('SELECT 1')),
      async () => undefined,
    );
    const run = await measure(async () => {
      const { admitted } = await admitWaitingTasks(db, { queuePrefix: prefix, providerLimits: {}, maxPerRun: 3 });
      if (admitted.length !== 3) throw new Error(`a run admitted ${admitted.length} tasks, not 3`);
    }, rewait);
    const f = (x: number) => x.toFixed(2);
    console.log(JSON.stringify({ runs: RUNS, bare, admissionRun: run }, null, 2));
    console.log(`bare round trip (SELECT 1): ${f(bare.wallMs)} ms wall, ${f(bare.cpuMs)} ms CPU`);
    console.log(
      `admission run (3 of 9 waiting tasks, 3 keys): ${f(run.wallMs)} ms wall = ${f(run.wallMs / bare.wallMs)}x, ${f(run.cpuMs)} ms CPU = ${f(run.cpuMs / bare.cpuMs)}x`,
    );
  } finally {
    await deleteKeyRows(db, keyIds);
    await api.stop();
    await db.$disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

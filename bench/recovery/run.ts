/**
 * Recovery bench: how long after Redis loses its data every live task has a job again.
 * BENCH_TASKS (default 10,000) tasks are put live in Postgres (processing, under a fresh queue
 * prefix), on a redis-server of the bench's own (a free port, no persistence: it is flushed).
 * A worker's data-loss watch and reconciler run as in apps/worker; no task worker takes the jobs,
 * so the figure is detection + re-queueing alone. Three faults are timed: a first start (no epoch
 * in Redis), FLUSHALL (noticed by the once-a-second check) and a restart with no data (noticed on
 * reconnect). Then its rows are deleted and its redis-server stopped.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reelay_bench pnpm exec tsx bench/recovery/run.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { reconcileTasks } from '../../apps/worker/src/reconcile';
import { parseConfig } from '../../packages/config/src';
import { newVideoId } from '../../packages/core/src';
import { createApiKey, createDatabaseIfMissing, createDb, migrate } from '../../packages/db/src';
import { createLogger } from '../../packages/observability/src';
import { createRedis, createTasksQueue, DataLossWatch } from '../../packages/queue/src';
import { freePort } from '@reelay/testing';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function redisServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()).includes('Ready to accept connections') && resolve());
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return child;
}

async function main(): Promise<void> {
  await createDatabaseIfMissing(DATABASE_URL);
  await migrate(DATABASE_URL);
  const port = await freePort();
  let server = await redisServer(port);
  const prefix = `bench-recovery-${Math.random().toString(36).slice(2, 8)}`;
  const config = parseConfig({ ...process.env, DATABASE_URL, REDIS_URL: `redis://127.0.0.1:${port}`, REELAY_QUEUE_PREFIX: prefix });
  const db = createDb(DATABASE_URL, 4);
  const redis = createRedis(config.REDIS_URL, 'worker');
  const probe = createRedis(config.REDIS_URL, 'worker');
  const queue = createTasksQueue(redis, prefix);
  const { key } = await createApiKey(db, { name: 'bench-recovery', statusDialect: null });
  const logger = createLogger({ name: 'bench-recovery', level: 'warn' });
  const passes: number[] = [];
  const watch = new DataLossWatch({
    redis,
    prefix,
    logger,
    async recover(renew) {
      const started = Date.now();
      await reconcileTasks({ db, config }, queue, { quietMs: 0, afterBatch: renew });
      passes.push(Date.now() - started);
    },
  });
  const waitingJobs = async () => (await createTasksQueue(probe, prefix).getJobCounts('waiting')).waiting ?? 0;
  /** Seconds from `since` until Redis holds a job for every live task. */
  const refilled = async (since: number): Promise<number> => {
    for (;;) {
      if ((await waitingJobs().catch(() => 0)) >= TASKS) return (Date.now() - since) / 1000;
      await sleep(20);
    }
  };
  try {
    const now = new Date();
    for (let offset = 0; offset < TASKS; offset += 1000) {
      const rows = Array.from({ length: Math.min(1000, TASKS - offset) }, () => ({
        id: newVideoId(),
        apiKeyId: key.id,
        model: 'sora-1.0',
        provider: 'preview',
        status: 'processing' as const,
        upstreamId: 'bench',
        durationSeconds: 4,
        width: 128,
        height: 128,
        fps: 10,
        seed: BigInt(1),
        queuePrefix: prefix,
        admittedAt: now,
        startedAt: now,
        expiresAt: new Date(now.getTime() + 3600_000),
      }));
      await db.task.createMany({ data: rows });
    }
    const report: Record<string, unknown> = { tasks: TASKS };

    let t0 = Date.now();
    await watch.start();
    report.firstStartSeconds = await refilled(t0);

    await sleep(1500);
    t0 = Date.now();
    await probe.flushall();
    report.flushallSeconds = await refilled(t0);

    await sleep(1500);
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
    server = await redisServer(port);
    t0 = Date.now();
    report.restartEmptySeconds = await refilled(t0);
    await sleep(500);
    report.passMs = passes;
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await watch.close();
    await queue.close();
    redis.disconnect();
    probe.disconnect();
    server.kill('SIGKILL');
    await db.task.deleteMany({ where: { apiKeyId: key.id } });
    await db.apiKey.delete({ where: { id: key.id } });
    await db.$disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

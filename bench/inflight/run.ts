/**
 * In-flight bench: BENCH_TASKS (default 10,000) tasks live at once against the OpenAI-compatible
 * emulator (tasks take 60-120 s upstream), carried by ONE worker process. Reports the worker's
 * peak RSS and CPU, poll lag (actual minus scheduled poll time) p50/p99, polls per task, and
 * lost tasks; then deletes its rows, Redis keys and files.
 *
 * Tasks are inserted into Postgres in bulk (1,000 a second) and announced on the admission
 * channel, as POST /v1/videos does, rather than created over HTTP: the subject is the worker
 * (admission, submit, polling), and 10,000 HTTP creates would measure the API instead.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reelay_bench npx tsx bench/inflight/run.ts
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@reelay/testing';
import { deleteQueueKeys, emulatedStackEnv, startEmulatedUpstream } from '../emulated-upstream';
import { newVideoId } from '../../packages/core/src';
import { createApiKey, createDatabaseIfMissing, createDb, migrate } from '../../packages/db/src';
import { admissionChannel, createRedis, createTasksQueue } from '../../packages/queue/src';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const PER_SECOND = 1000;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_bench';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Node flags of the worker, as every launcher runs it (infra/scripts/start.sh, compose, k8s); BENCH_WORKER_NODE_FLAGS overrides. */
const WORKER_NODE_FLAGS = (process.env.BENCH_WORKER_NODE_FLAGS ?? '--max-old-space-size=192').split(' ').filter(Boolean);

const pct = (sorted: number[], p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  await createDatabaseIfMissing(DATABASE_URL);
  await migrate(DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'reelay-bench-inflight-'));
  const prefix = `bench-inflight-${Math.random().toString(36).slice(2, 8)}`;
  const db = createDb(DATABASE_URL, 4);
  const redis = createRedis(REDIS_URL, 'worker');
  const queue = createTasksQueue(redis, prefix);
  const emulator = await startEmulatedUpstream({ min: Number(process.env.BENCH_TASK_MIN_MS ?? 60_000), max: Number(process.env.BENCH_TASK_MAX_MS ?? 120_000) });
  const { key } = await createApiKey(db, { name: 'bench-inflight', statusDialect: null });
  const env = {
    ...emulatedStackEnv({ upstreamUrl: emulator.url, dir, databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, queuePrefix: prefix }),
    WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY ?? '100',
  };
  // The worker logs a line per task ended; stdout is dropped so the report stays readable.
  const worker = fork(join(ROOT, 'bench/inflight/worker.ts'), [], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    execArgv: [
      ...WORKER_NODE_FLAGS,
      '--import',
      'tsx',
      ...(process.env.BENCH_WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_WORKER_CPU_PROF}`] : []),
    ],
  });
  const lags: number[] = [];
  let peakRss = 0;
  let final: any;
  let lastHeap = 0;
  let lastExt = 0;
  let lastHeapTotal = 0;
  let windowMaxLag = 0; // the longest poll lag since the last progress line: when a stall happened
  worker.on('message', (m: any) => {
    if (m.kind === 'sample' || m.kind === 'final') {
      lags.push(...m.lags);
      for (const lag of m.lags as number[]) windowMaxLag = Math.max(windowMaxLag, lag);
      peakRss = Math.max(peakRss, m.rss ?? m.peakRss ?? 0);
      if (m.heapMB !== undefined) [lastHeap, lastHeapTotal, lastExt] = [m.heapMB, m.heapTotalMB, m.externalMB];
    }
    if (m.kind === 'final') final = m;
  });
  await new Promise<void>((res) => worker.on('message', (m: any) => m.kind === 'ready' && res()));

  const started = Date.now();
  try {
    for (let offset = 0; offset < TASKS; offset += PER_SECOND) {
      const batchStart = Date.now();
      const now = new Date();
      const rows = Array.from({ length: Math.min(PER_SECOND, TASKS - offset) }, () => ({
        id: newVideoId(),
        apiKeyId: key.id,
        model: 'bench',
        provider: 'openai-compatible',
        prompt: 'bench',
        durationSeconds: 4,
        width: 720,
        height: 1280,
        fps: 24,
        seed: BigInt(1),
        queuePrefix: prefix,
        createdAt: now,
        expiresAt: new Date(now.getTime() + 3600_000),
      }));
      await db.task.createMany({ data: rows });
      // As the API does after a create: the worker's admitter gives each task its turn and queues its job.
      await redis.publish(admissionChannel(prefix), '1');
      await sleep(Math.max(0, 1000 - (Date.now() - batchStart)));
    }
    const loadedMs = Date.now() - started;
    console.log(`loaded ${TASKS} tasks in ${loadedMs} ms`);
    const deadline = Date.now() + 10 * 60_000;
    let live = TASKS;
    let peakInFlight = 0;
    while (Date.now() < deadline) {
      const groups = await db.task.groupBy({ by: ['status'], where: { apiKeyId: key.id }, _count: true });
      const by = Object.fromEntries(groups.map((g) => [g.status, g._count]));
      live = (by.pending ?? 0) + (by.processing ?? 0);
      peakInFlight = Math.max(peakInFlight, by.processing ?? 0);
      // Jobs running (at most WORKER_CONCURRENCY) and due ones waiting for a free slot: a late poll
      // with free slots is the worker's event loop, one behind a full house is slot time.
      const jobs = await queue.getJobCounts('active', 'wait', 'prioritized');
      console.log(
        `t+${Math.round((Date.now() - started) / 1000)}s pending=${by.pending ?? 0} processing=${by.processing ?? 0} completed=${by.completed ?? 0} failed=${by.failed ?? 0} rss=${Math.round(peakRss / 1e6)}MB heap=${lastHeap}/${lastHeapTotal}MB ext=${lastExt}MB lagSamples=${lags.length} lagMax=${Math.round(windowMaxLag)}ms jobs active=${jobs.active} due=${(jobs.wait ?? 0) + (jobs.prioritized ?? 0)}`,
      );
      windowMaxLag = 0;
      if (live === 0) break;
      await sleep(5000);
    }
    worker.send({ kind: 'stop' });
    await new Promise((res) => worker.once('exit', res));
    const counts = await emulator.counts();
    const stats = await db.task.aggregate({ where: { apiKeyId: key.id }, _avg: { pollCount: true }, _max: { pollCount: true } });
    const statuses = await db.task.groupBy({ by: ['status'], where: { apiKeyId: key.id }, _count: true });
    const failedSample = await db.task.findFirst({ where: { apiKeyId: key.id, status: 'failed' }, select: { errorCode: true, errorMessage: true } });
    lags.sort((a, b) => a - b);
    const report = {
      tasks: TASKS,
      statuses: Object.fromEntries(statuses.map((g) => [g.status, g._count])),
      lost: live,
      peakInFlight,
      totalSeconds: Math.round((Date.now() - started) / 1000),
      worker: {
        peakRssMB: Math.round(Math.max(peakRss, final.peakRss, final.maxRssKb * 1024) / 1e6),
        cpuSeconds: Math.round((final.cpuUserMs + final.cpuSystemMs) / 100) / 10,
        cpuPercentOfOneCore: Math.round(((final.cpuUserMs + final.cpuSystemMs) / final.wallMs) * 1000) / 10,
      },
      pollLagMs: { samples: lags.length, p50: pct(lags, 50), p99: pct(lags, 99), max: lags[lags.length - 1] },
      pollsPerTask: { mean: Math.round((stats._avg.pollCount ?? 0) * 10) / 10, max: stats._max.pollCount },
      emulator: counts,
      failedSample,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    worker.kill();
    emulator.process.child.kill();
    await db.taskOutput.deleteMany({ where: { task: { apiKeyId: key.id } } });
    await db.task.deleteMany({ where: { apiKeyId: key.id } });
    await db.apiKey.delete({ where: { id: key.id } });
    await queue.close();
    const removed = await deleteQueueKeys(redis, prefix);
    console.log(`cleanup: removed rows of key ${key.id}, ${removed} Redis keys under ${prefix}:, ${dir}`);
    redis.disconnect();
    await db.$disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

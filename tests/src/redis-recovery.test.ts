import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLiveTasksWithJobs } from '@reelay/db';
import { createRedis, createTasksQueue, QUEUES, SCHEDULERS, type Redis } from '@reelay/queue';
import { Queue } from 'bullmq';
import { http, OpenAIVideosEmulator, OwnRedis, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Redis loses its data under a running deployment with 60 tasks in flight at an upstream: wiped
 * with FLUSHALL (no reconnect to notice), then killed and restarted empty. Each time every live
 * task must get its job back, the schedulers must exist again, and /readyz must say
 * "recovering" until then. Runs on its own redis-server, never the shared one.
 */
const TASKS = 60;
const KEY = 'sk-upstream-recovery-0123456789';
const LIVE_JOB_STATES = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];
let redis: OwnRedis;
let emu: OpenAIVideosEmulator;
let stack: Stack;
let dir: string;
let probe: Redis;
let tasks: Queue;
let maintenance: Queue;
const ids: string[] = [];

beforeAll(async () => {
  redis = await OwnRedis.start();
  // Long enough upstream tasks that all 60 are still running through both faults.
  emu = new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 30_000, queuedMs: 100 } });
  await emu.start();
  dir = mkdtempSync(join(tmpdir(), 'reelay-recovery-'));
  const models = join(dir, 'models.json');
  const target = { provider: 'openai-compatible', baseUrl: emu.url, credentials: 'UPSTREAM_KEY_RECOVERY', upstreamModel: 'sora-2' };
  const model = {
    id: 'slow',
    targets: [target],
    duration: { min: 1, max: 20 },
    size: { width: { min: 64, max: 1920 }, height: { min: 64, max: 1920 } },
    fps: { values: [12, 24] },
    maxN: 1,
    defaults: { duration: 1, width: 128, height: 128, fps: 12 },
  };
  writeFileSync(models, JSON.stringify({ defaultModel: 'slow', models: [model] }));
  stack = await startStack({
    REDIS_URL: redis.url,
    REELAY_MODELS_FILE: models,
    UPSTREAM_KEY_RECOVERY: KEY,
    // The periodic sweep stays out of the way: what is measured is the recovery itself.
    WORKER_RECONCILE_INTERVAL_MS: '600000',
    // Connection errors while Redis is away are expected.
    LOG_LEVEL: 'fatal',
  });
  probe = createRedis(redis.url, 'worker');
  tasks = createTasksQueue(probe, stack.config.REELAY_QUEUE_PREFIX);
  maintenance = new Queue(QUEUES.maintenance.name, { connection: probe, prefix: stack.config.REELAY_QUEUE_PREFIX });
  maintenance.on('error', () => undefined);
});

afterAll(async () => {
  await tasks?.close();
  await maintenance?.close();
  probe?.disconnect();
  if (redis && !redis.running) await redis.up(); // lets the stack close cleanly
  await stack?.close();
  await redis?.kill();
  await emu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Live tasks that should have a job (Postgres is the truth) and have none in Redis. */
async function joblessLiveTasks(): Promise<{ live: number; jobless: string[] }> {
  const live = await findLiveTasksWithJobs(stack.db, {
    queuePrefix: stack.config.REELAY_QUEUE_PREFIX,
    quietSince: new Date(Date.now() + 3_600_000),
    limit: 10_000,
  });
  const states = await Promise.all(live.map((t) => tasks.getJobState(t.id)));
  return { live: live.length, jobless: live.filter((_, i) => !LIVE_JOB_STATES.includes(states[i]!)).map((t) => t.id) };
}

const schedulersBack = async () =>
  Boolean((await maintenance.getJobScheduler(SCHEDULERS.expireResults)) && (await maintenance.getJobScheduler(SCHEDULERS.reconcileTasks)));

async function readyz(): Promise<{ api: { status: number; body: any }; worker: { status: number; body: any } }> {
  const [api, worker] = await Promise.all([
    http(stack, 'GET', '/readyz'),
    fetch(`${stack.worker!.opsUrl}/readyz`).then(async (r) => ({ status: r.status, body: await r.json() })),
  ]);
  return { api: { status: api.status, body: api.body }, worker };
}

/** Waits until every live task has a job again, both schedulers exist and both /readyz say 200; returns seconds since `since`. */
async function recovered(what: string, since: number, seen: Set<string>): Promise<number> {
  let doneAt = 0;
  await until(
    what,
    async () => {
      const r = await readyz();
      seen.add(`api ${r.api.status} ${r.api.body?.status}`).add(`worker ${r.worker.status} ${r.worker.body?.status}`);
      const { jobless } = await joblessLiveTasks();
      if (jobless.length > 0 || !(await schedulersBack())) return false;
      doneAt ||= Date.now(); // the first moment Redis held everything again
      return r.api.status === 200 && r.worker.status === 200;
    },
    60_000,
  );
  return (doneAt - since) / 1000;
}

test('after Redis loses its data, every live task has a job again, the schedulers are back, and /readyz says "recovering" until then', async () => {
  for (let i = 0; i < TASKS; i++) {
    const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: `in flight ${i}`, duration: 1, width: 128, height: 128, fps: 12 } });
    expect(res.status).toBe(200);
    ids.push(res.body.id as string);
  }
  await until(
    'every task submitted upstream',
    async () => emu.acceptedTasks === TASKS && (await stack.db.task.count({ where: { id: { in: ids }, status: 'processing' } })) === TASKS,
  );
  expect(await joblessLiveTasks()).toEqual({ live: TASKS, jobless: [] });
  expect((await readyz()).api.status).toBe(200);

  // 1. FLUSHALL: Redis stays up, nothing reconnects; only the missing epoch tells.
  const flushedAt = Date.now();
  await probe.flushall();
  const during = await readyz();
  expect(during.api.status).toBe(503);
  expect(during.api.body).toMatchObject({ status: 'recovering', checks: { postgres: 'ok', redis: 'ok' }, recovery: { reason: expect.any(String) } });
  expect(during.worker.status).toBe(503);
  expect(during.worker.body.status).toBe('recovering');
  const flushSeen = new Set<string>();
  const afterFlush = await recovered('recovery after FLUSHALL', flushedAt, flushSeen);
  process.stdout.write(
    `FLUSHALL with ${TASKS} tasks live: every live task had a job again after ${afterFlush.toFixed(2)} s (readyz seen: ${[...flushSeen].join(', ')})\n`,
  );

  // 2. Killed and restarted empty: the reconnect tells.
  expect((await joblessLiveTasks()).live).toBeGreaterThanOrEqual(50);
  await redis.kill();
  await redis.up();
  const restartedAt = Date.now();
  const restartSeen = new Set<string>();
  const afterRestart = await recovered('recovery after a restart with no data', restartedAt, restartSeen);
  process.stdout.write(
    `Redis restarted empty with ${TASKS} tasks live: every live task had a job again ${afterRestart.toFixed(2)} s after it was back (readyz seen: ${[...restartSeen].join(', ')})\n`,
  );

  // Every task ends, each submitted upstream exactly once.
  for (const id of ids) expect((await waitForVideo(stack, stack.key, id, 120_000)).video.status).toBe('completed');
  expect(emu.acceptedTasks).toBe(TASKS);
  expect(emu.calls('create').filter((r) => r.status === 200)).toHaveLength(TASKS);
});

import { Writable } from 'node:stream';
import { parseConfig } from '@reelay/config';
import { createLogger, queueEvents } from '@reelay/observability';
import { Queue, Worker, type Job } from 'bullmq';
import { QUEUES, SCHEDULERS, type TaskJob } from './catalog';
import { createRedis } from './connection';
import { DataLossWatch, isRecovering } from './data-loss';
import { recoveryEpochKey, recoveryLeaseKey } from './keys';
import { BATCH_JOB_PRIORITY, createQueue, ensureTaskJobs } from './queues';
import { registerWorker, upsertSchedulers } from './worker';

/** Against the real Redis (REDIS_URL), under a prefix of this file's own; nothing is flushed. */
const config = parseConfig(process.env);
const prefix = `queue-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const connection = createRedis(config.REDIS_URL, 'worker');
const lines: string[] = [];
const logger = createLogger({
  name: 'queue-test',
  level: 'debug',
  destination: new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  }),
});
const closers: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  const keys = await connection.keys(`${prefix}*`); // this file's prefixes only
  if (keys.length > 0) await connection.del(...keys);
  connection.disconnect();
});

const counted = async (queue: string, event: string): Promise<number> =>
  (await queueEvents.get()).values.find((v) => v.labels.queue === queue && v.labels.event === event)?.value ?? 0;

async function until(what: string, fn: () => Promise<unknown> | unknown, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function open<T>(spec: Parameters<typeof createQueue<T>>[0], at = prefix): Queue<T> {
  const queue = createQueue(spec, connection, at, config, logger);
  closers.push(() => queue.obliterate({ force: true }).then(() => queue.close()));
  return queue;
}

function worker<T>(spec: Parameters<typeof registerWorker<T>>[0], processor: (job: Job<T>) => Promise<unknown>, overrides = {}): Worker<T> {
  const w = registerWorker(spec, processor, { connection, prefix, config, logger, overrides });
  closers.push(() => w.close());
  return w;
}

test('every catalog queue and worker listens for error, and workers for failed and stalled', async () => {
  for (const spec of Object.values(QUEUES)) {
    const queue = createQueue(spec as Parameters<typeof createQueue>[0], connection, `${prefix}-listeners`, config, logger);
    expect(queue.listenerCount('error')).toBeGreaterThan(0);
    const w = registerWorker(spec as Parameters<typeof registerWorker>[0], async () => undefined, {
      connection,
      prefix: `${prefix}-listeners`,
      config,
      logger,
    });
    for (const event of ['error', 'failed', 'stalled'] as const) expect(w.listenerCount(event)).toBeGreaterThan(0);
    await w.close();
    await queue.close();
  }
});

test('an error on a queue is logged and counted; its repeats within seconds are folded into one line', async () => {
  const queue = open(QUEUES.cancels);
  const before = await counted(QUEUES.cancels.name, 'error');
  const logged = () => lines.filter((l) => l.includes('queue error on queue task-cancels')).length;
  const linesBefore = logged();
  for (let i = 0; i < 3; i++) queue.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:1'));
  expect(await counted(QUEUES.cancels.name, 'error')).toBe(before + 3);
  expect(logged()).toBe(linesBefore + 1);
});

test('a failed attempt is logged and counted under its queue', async () => {
  const queue = open(QUEUES.cancels);
  const before = await counted(QUEUES.cancels.name, 'failed');
  worker(QUEUES.cancels, async () => {
    throw new Error('upstream said no');
  });
  await queue.add('cancel', { taskId: 'vid_fails' }, { jobId: 'cancel-vid_fails', attempts: 1 });
  await until('the failed event to be counted', async () => (await counted(QUEUES.cancels.name, 'failed')) > before);
  expect(lines.some((l) => l.includes('job attempt failed') && l.includes('cancel-vid_fails') && l.includes('upstream said no'))).toBe(true);
});

test('a job whose worker stopped renewing its lock is taken back, counted as stalled, and completed by another worker', async () => {
  const queue = open(QUEUES.tasks);
  await queue.add('task', { taskId: 'vid_stalls' }, { jobId: 'vid_stalls' });
  // A worker that takes the job and then "dies": it never renews the lock nor finishes.
  const dead = new Worker(QUEUES.tasks.name, null, { connection, prefix, lockDuration: 1000 });
  dead.on('error', () => undefined);
  const taken = await dead.getNextJob('dead-token');
  expect(taken?.id).toBe('vid_stalls');
  await dead.close();

  const before = await counted(QUEUES.tasks.name, 'stalled');
  const done: string[] = [];
  worker(QUEUES.tasks, async (job: Job<TaskJob>) => void done.push(job.data.taskId), { lockDuration: 1000, stalledInterval: 300 });
  await until('the job to be completed by the live worker', () => done.includes('vid_stalls'));
  expect(await counted(QUEUES.tasks.name, 'stalled')).toBeGreaterThan(before);
  expect(lines.some((l) => l.includes('job stalled') && l.includes('vid_stalls'))).toBe(true);
});

test('schedulers are upserted from the catalog, and one switched off is removed', async () => {
  const queue = open(QUEUES.maintenance);
  await upsertSchedulers(queue, QUEUES.maintenance, config);
  expect((await queue.getJobScheduler(SCHEDULERS.expireResults))?.every).toBe(config.WORKER_EXPIRY_SWEEP_INTERVAL_MS);
  expect((await queue.getJobScheduler(SCHEDULERS.reconcileTasks))?.every).toBe(config.WORKER_RECONCILE_INTERVAL_MS);
  await upsertSchedulers(queue, QUEUES.maintenance, { ...config, WORKER_RECONCILE_INTERVAL_MS: 0 });
  expect(await queue.getJobScheduler(SCHEDULERS.reconcileTasks)).toBeUndefined();
  expect(await queue.getJobScheduler(SCHEDULERS.expireResults)).toBeDefined();
});

test('ensureTaskJobs queues missing and finished jobs again and leaves existing ones alone', async () => {
  const at = `${prefix}-ensure`; // no worker runs here
  const queue = open(QUEUES.tasks, at);
  await queue.add('task', { taskId: 'vid_failed' }, { jobId: 'vid_failed', attempts: 1 });
  const taker = new Worker(QUEUES.tasks.name, null, { connection, prefix: at });
  taker.on('error', () => undefined);
  const failed = (await taker.getNextJob('taker-token'))!;
  await failed.moveToFailed(new Error('job stalled more than allowable limit'), 'taker-token', false);
  await taker.close();
  await queue.add('task', { taskId: 'vid_delayed' }, { jobId: 'vid_delayed', delay: 60_000 });
  expect(await queue.getJobState('vid_failed')).toBe('failed');

  const queued = await ensureTaskJobs(queue, [
    { taskId: 'vid_delayed' },
    { taskId: 'vid_failed' },
    { taskId: 'vid_missing', requestId: 'req_1' },
    { taskId: 'vid_batch', batch: true },
  ]);
  expect(queued.sort()).toEqual(['vid_batch', 'vid_failed', 'vid_missing']);
  // A batch task's job comes back behind interactive ones, as admission queued it.
  expect(await queue.getJobState('vid_batch')).toBe('prioritized');
  expect((await queue.getJob('vid_batch'))?.opts.priority).toBe(BATCH_JOB_PRIORITY);
  expect((await queue.getJob('vid_batch'))?.data).toEqual({ taskId: 'vid_batch' });
  expect(await queue.getJobState('vid_delayed')).toBe('delayed');
  expect(await queue.getJobState('vid_failed')).toBe('waiting');
  expect((await queue.getJob('vid_missing'))?.data).toEqual({ taskId: 'vid_missing', requestId: 'req_1' });
});

test('the data-loss watch recovers at a first start and again once the epoch is gone; readiness follows it', async () => {
  const p = `${prefix}-watch`;
  const passes: number[] = [];
  let liveTasks = true;
  const watch = new DataLossWatch({
    redis: connection,
    prefix: p,
    logger,
    checkEveryMs: 200,
    async recover(renew) {
      expect(await isRecovering(connection, p, async () => false)).toBe(true); // the lease is held meanwhile
      await renew();
      passes.push(Date.now());
    },
  });
  closers.push(() => watch.close());
  expect(await isRecovering(connection, p, async () => liveTasks)).toBe(true); // nothing there yet, tasks live
  expect(await isRecovering(connection, p, async () => false)).toBe(false); // nothing there, nothing to wait for
  expect(await watch.start()).toBe(false);
  await until('the first pass', async () => passes.length === 1 && (await connection.exists(recoveryEpochKey(p))) === 1);
  await until('the watch to see it done', () => watch.lostSince === null);
  expect(await connection.exists(recoveryLeaseKey(p))).toBe(0);
  expect(await isRecovering(connection, p, async () => liveTasks)).toBe(false);

  await connection.del(recoveryEpochKey(p)); // what a FLUSHALL does to it
  await until('a second pass', () => passes.length === 2);
  await until('the epoch to be back', async () => (await connection.exists(recoveryEpochKey(p))) === 1);
  liveTasks = false;
  expect(passes).toHaveLength(2);
});

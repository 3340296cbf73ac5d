import { createRedis, createTasksQueue } from '@reelay/queue';
import { startWorker, type WorkerRuntime } from '@reelay/worker';
import { http, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

let a: Stack;
let b: Stack;
let aWorker: WorkerRuntime | null = null;

beforeAll(async () => {
  a = await startStack({}, { worker: false }); // deployment A: its worker starts later
  b = await startStack(); // deployment B: same database, its own queue prefix, reconciling every second
});
afterAll(async () => {
  await aWorker?.close();
  await b.close();
  await a.close();
});

test("after Redis loses a task's job, only the deployment that owns the task queues it again", async () => {
  const created = await http(a, 'POST', '/v1/videos', { key: a.key, json: { prompt: 'lost job', duration: 1, width: 128, height: 128, fps: 24 } });
  expect(created.status).toBe(200);
  const id = created.body.id as string;

  // An admitted task (it should have a job) loses it, as when Redis is wiped, and looks long quiet.
  const redis = createRedis(a.config.REDIS_URL, 'worker');
  const queue = createTasksQueue(redis, a.config.REELAY_QUEUE_PREFIX);
  await queue.obliterate({ force: true });
  expect(await queue.getJob(id)).toBeUndefined();
  await a.db.task.update({ where: { id }, data: { admittedAt: new Date(Date.now() - 10 * 60_000), updatedAt: new Date(Date.now() - 10 * 60_000) } });

  // B's reconciler runs every second; give it several rounds. It must not adopt A's task.
  await new Promise((r) => setTimeout(r, 4000));
  const untouched = await a.db.task.findUniqueOrThrow({ where: { id } });
  expect(untouched.status).toBe('pending');
  expect(untouched.upstreamId).toBeNull();

  expect(await queue.getJob(id)).toBeUndefined();

  // A's own worker finds the jobless task (its pass at start) and carries it to completion.
  aWorker = await startWorker(a.config);
  const { video } = await waitForVideo(a, a.key, id, 90_000);
  expect(video.status).toBe('completed');
  await queue.close();
  redis.disconnect();
});

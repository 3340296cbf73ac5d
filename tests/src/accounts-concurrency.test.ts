import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN, adminKey, http, previewRenderDir, spawnWorker, TINY, tinyCatalogFile, until, waitForVideo, type Spawned } from '@reelay/testing';
import { startStack, type Stack } from './harness';

let stack: Stack;
const children: Spawned[] = [];

beforeAll(async () => {
  stack = await startStack({ REELAY_ADMIN_TOKEN: ADMIN_TOKEN, REELAY_MODELS_FILE: tinyCatalogFile(), WORKER_ADMISSION_INTERVAL_MS: '500' });
});
afterAll(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await stack.close();
});

test('a key limited to 2 concurrent tasks never has more than 2 processing, across two worker processes, and all 10 complete', async () => {
  children.push(spawnWorker(stack)); // a second worker process next to the in-process one
  const key = await adminKey(stack, { max_concurrent: 2 });
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await http(stack, 'POST', '/v1/videos', { key: key.secret, json: { ...TINY, prompt: `task ${i}` } });
    expect(res.status).toBe(200);
    ids.push(res.body.id);
  }
  let maxProcessing = 0;
  let maxHoldingSlot = 0;
  let samples = 0;
  let finished = false;
  const sampler = (async () => {
    while (!finished) {
      // One statement, so both counts come from one snapshot.
      const [row] = await stack.db.$queryRaw<{ processing: number; admitted_waiting: number }[]>`
        SELECT (count(*) FILTER (WHERE status = 'processing'))::int AS processing,
               (count(*) FILTER (WHERE status = 'pending' AND admitted_at IS NOT NULL))::int AS admitted_waiting
        FROM tasks WHERE api_key_id = ${key.id}`;
      const { processing, admitted_waiting: admittedWaiting } = row!;
      maxProcessing = Math.max(maxProcessing, processing);
      maxHoldingSlot = Math.max(maxHoldingSlot, processing + admittedWaiting);
      samples++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const videos = await Promise.all(ids.map((id) => waitForVideo(stack, key.secret, id, 240_000)));
  finished = true;
  await sampler;
  console.log(`concurrency: ${samples} samples, max processing ${maxProcessing}, max holding a slot ${maxHoldingSlot}`);
  expect(videos.map((v) => v.video.status)).toEqual(Array(10).fill('completed'));
  expect(maxProcessing).toBe(2); // the limit was reached (so the sampling saw the work) and never passed
  expect(maxHoldingSlot).toBeLessThanOrEqual(2);
  expect(samples).toBeGreaterThan(20);
}, 300_000);

test('kill -9 of a worker mid-task does not leak the slot: the key (limit 1) still runs its next task', async () => {
  for (const c of children.splice(0)) await c.stop('SIGKILL');
  await stack.worker!.close(); // only killable worker processes from here on
  stack.worker = null;
  const key = await adminKey(stack, { max_concurrent: 1 });
  const first = await http(stack, 'POST', '/v1/videos', { key: key.secret, json: { ...TINY, prompt: 'long', duration: 6, width: 320, height: 240, fps: 24 } });
  const second = await http(stack, 'POST', '/v1/videos', { key: key.secret, json: { ...TINY, prompt: 'next' } });
  expect([first.status, second.status]).toEqual([200, 200]);
  const worker = spawnWorker(stack);
  children.push(worker);
  const renderDir = previewRenderDir(stack, first.body.id);
  await until('the first render to be under way', async () => {
    const r = await http(stack, 'GET', `/v1/videos/${first.body.id}`, { key: key.secret });
    return r.body.status === 'processing' && existsSync(join(renderDir, 'pid'));
  });
  // The second task is held back by the limit while the first holds the slot.
  expect((await stack.db.task.findUniqueOrThrow({ where: { id: second.body.id } })).admittedAt).toBeNull();
  await worker.stop('SIGKILL');
  children.push(spawnWorker(stack));
  const a = await waitForVideo(stack, key.secret, first.body.id, 180_000);
  const b = await waitForVideo(stack, key.secret, second.body.id, 180_000);
  expect([a.video.status, b.video.status]).toEqual(['completed', 'completed']);
  const rows = await stack.db.task.findMany({ where: { apiKeyId: key.id }, orderBy: { createdAt: 'asc' } });
  // One slot: the second started only after the first had ended.
  expect(rows[1]!.startedAt!.getTime()).toBeGreaterThanOrEqual(rows[0]!.completedAt!.getTime());
}, 300_000);

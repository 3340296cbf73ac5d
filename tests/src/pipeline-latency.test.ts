import { OpenAIVideosEmulator, createVideo, tinyCatalogFile, waitForVideo, TINY } from '@reelay/testing';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from './harness';

// Scheduled polls far beyond the test timeout: any task that completes here was completed by
// the worker learning of its end (a render exiting, a slot freeing, a submit answer), not a poll.
const NEVER_MS = String(10 * 60_000);
jest.setTimeout(90_000);

let stack: Stack;
let openai: OpenAIVideosEmulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-latency-'));
  // A model that is done by the time it answers the create call.
  openai = new OpenAIVideosEmulator({ apiKey: 'sk-latency', behaviour: { taskMs: 0, queuedMs: 0 } });
  await openai.start();
  const catalog = join(dir, 'models.json');
  const base = JSON.parse(readFileSync(tinyCatalogFile(), 'utf8'));
  base.models.push({
    id: 'instant',
    targets: [{ provider: 'openai-compatible', upstreamModel: 'sora-2', baseUrl: openai.url, credentials: 'E2E_INSTANT_KEY' }],
    duration: { min: 1, max: 10 },
    size: { values: ['128x128'] },
    fps: { values: [10] },
    defaults: { duration: 1, width: 128, height: 128, fps: 10 },
  });
  writeFileSync(catalog, JSON.stringify(base));
  stack = await startStack({
    REELAY_MODELS_FILE: catalog,
    E2E_INSTANT_KEY: 'sk-latency',
    WORKER_RENDER_SLOTS: '2',
    POLL_FIRST_MS: NEVER_MS,
    POLL_MIN_MS: NEVER_MS,
    POLL_MAX_MS: NEVER_MS,
  });
});

afterAll(async () => {
  await stack?.close();
  await openai?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a preview render that ends completes its task at once, without a scheduled poll', async () => {
  const created = await createVideo(stack, stack.key, { ...TINY, duration: 1, width: 64, height: 64 });
  const { video } = await waitForVideo(stack, stack.key, created.id, 60_000);
  expect(video.status).toBe('completed');
  const task = await stack.db.task.findUnique({ where: { id: created.id } });
  // Started by the submit, finished by the render's exit: the one poll is the one that completed it.
  expect(task!.pollCount).toBe(1);
});

test('a burst of renders larger than the slots all complete, each queued task starting when a slot frees', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push((await createVideo(stack, stack.key, { ...TINY, prompt: `burst ${i}`, width: 64, height: 64 })).id);
  const videos = await Promise.all(ids.map((id) => waitForVideo(stack, stack.key, id, 60_000).then((r) => r.video)));
  expect(videos.map((v) => v.status)).toEqual(ids.map(() => 'completed'));
  const tasks = await stack.db.task.findMany({ where: { id: { in: ids } } });
  // Woken, not polled on a schedule: a few polls each (woken while a slot was taken meanwhile,
  // started, ended), never a backoff series.
  for (const t of tasks) expect(t.pollCount).toBeLessThanOrEqual(4);
});

test('an upstream that answers the submit with the finished video completes the task without any poll', async () => {
  const created = await createVideo(stack, stack.key, { model: 'instant', prompt: 'done at once' });
  const { video } = await waitForVideo(stack, stack.key, created.id, 30_000);
  expect(video.status).toBe('completed');
  const upstreamId = (await stack.db.task.findUnique({ where: { id: created.id } }))!.upstreamId!;
  expect(openai.calls('retrieve').filter((c) => c.path.includes(upstreamId))).toHaveLength(0);
  expect(openai.calls('content').filter((c) => c.path.includes(upstreamId)).length).toBeGreaterThan(0);
});

import { ModelCatalog, targetKey } from '@reelay/core';
import { ProviderRegistry } from '@reelay/providers';
import { startWorker } from '@reelay/worker';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVideo, emulatedContent, emulatedModel, http, OpenAIVideosEmulator, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * The worker pipeline against two OpenAI-compatible upstreams (emulators on loopback), each with
 * its own key taken from the environment: failover, load sharing, error mapping, 429 and 5xx
 * handling, deadlines, and no double submit after a crash.
 */
const KEY_A = 'sk-upstream-a-0123456789';
const KEY_B = 'sk-upstream-b-0123456789';
let emuA: OpenAIVideosEmulator;
let emuB: OpenAIVideosEmulator;
let stack: Stack;
let dir: string;
let catalogFile: string;

const stackEnv = () => ({ REELAY_MODELS_FILE: catalogFile, UPSTREAM_KEY_A: KEY_A, UPSTREAM_KEY_B: KEY_B, UPSTREAM_KEY_B_LIMITED: KEY_B });

const model = (id: string, targets: object[], deadlineSeconds = 600) => emulatedModel(id, targets, { maxN: 2, deadlineSeconds });

beforeAll(async () => {
  emuA = new OpenAIVideosEmulator({ apiKey: KEY_A, behaviour: { taskMs: 600, queuedMs: 100 } });
  emuB = new OpenAIVideosEmulator({ apiKey: KEY_B, behaviour: { taskMs: 600, queuedMs: 100 } });
  await emuA.start();
  await emuB.start();
  const a = { provider: 'openai-compatible', baseUrl: emuA.url, credentials: 'UPSTREAM_KEY_A', upstreamModel: 'sora-2' };
  const b = { provider: 'openai-compatible', baseUrl: emuB.url, credentials: 'UPSTREAM_KEY_B', upstreamModel: 'sora-2' };
  dir = mkdtempSync(join(tmpdir(), 'reelay-routing-'));
  catalogFile = join(dir, 'models.json');
  writeFileSync(
    catalogFile,
    JSON.stringify({
      defaultModel: 'failover',
      models: [
        model('failover', [a, b]),
        model('shared', [
          { ...a, priority: 0 },
          { ...b, priority: 0 },
        ]),
        model('single', [a]),
        model('deadline', [a], 2),
        model('limited', [{ ...b, credentials: 'UPSTREAM_KEY_B_LIMITED', maxConcurrentTasks: 1, maxRequestsPerSecond: 2 }]),
      ],
    }),
  );
  stack = await startStack(stackEnv());
});

afterAll(async () => {
  await stack?.close();
  await emuA?.close();
  await emuB?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const e of [emuA, emuB]) {
    e.clearInjections().clearLog();
    e.behaviour = { ...e.behaviour, taskMs: 600, taskFailure: null, contentPolicyOnCreate: false };
  }
});

const create = async (modelId: string, prompt = 'a red kite over the sea'): Promise<string> =>
  (await createVideo(stack, stack.key, { model: modelId, prompt, duration: 1, width: 128, height: 128, fps: 12 })).id;

test('a target answering 500 passes the task to the next one; exactly one upstream task exists', async () => {
  emuA.failNext(1000, 500, 'create');
  const id = await create('failover');
  const { video } = await waitForVideo(stack, stack.key, id);
  expect(video.status).toBe('completed');
  expect(emuA.calls('create').length).toBeGreaterThanOrEqual(1);
  expect(emuA.calls('create').every((r) => r.status === 500)).toBe(true);
  expect(emuA.acceptedTasks + emuB.acceptedTasks).toBe(1);
  expect(emuB.calls('create')[0]!.idempotencyKey).toBe(id);

  const row = await stack.db.task.findUniqueOrThrow({ where: { id } });
  expect(row.providerTarget).toBe(targetKey({ provider: 'openai-compatible', baseUrl: emuB.url, credentials: 'UPSTREAM_KEY_B' }));
  expect(row.producedSeconds).toBe(1);
  const content = await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key });
  expect(content.bytes.equals(emulatedContent(row.upstreamId!, 'video'))).toBe(true);
  // Every poll went to B with B's key, none to A.
  expect(emuB.calls('retrieve').every((r) => r.authorized)).toBe(true);
  expect(emuA.calls('retrieve')).toHaveLength(0);
});

test('a content-policy refusal fails the task at once with the provider message, without failover', async () => {
  emuA.behaviour.contentPolicyOnCreate = true;
  const id = await create('failover');
  const { video } = await waitForVideo(stack, stack.key, id);
  expect(video.status).toBe('failed');
  expect(video.error).toEqual({ code: 'content_policy_violation', message: 'Your request was blocked by our moderation system.' });
  expect(emuA.calls('create')).toHaveLength(1);
  expect(emuB.calls('create')).toHaveLength(0);
});

test("a task the upstream fails ends failed with the upstream's message", async () => {
  emuA.behaviour.taskFailure = { code: 'internal_error', message: 'GPU node lost' };
  const id = await create('single');
  const { video } = await waitForVideo(stack, stack.key, id);
  expect(video.status).toBe('failed');
  expect(video.error).toEqual({ code: 'upstream_error', message: 'GPU node lost' });
});

test('a 429 on poll is honoured: no request to that upstream before Retry-After has passed', async () => {
  const id = await create('single');
  await new Promise((r) => setTimeout(r, 150));
  emuA.rateLimitNext(1, 2, 'retrieve');
  const { video } = await waitForVideo(stack, stack.key, id);
  expect(video.status).toBe('completed');
  const log = emuA.calls();
  const limited = log.findIndex((r) => r.status === 429);
  expect(limited).toBeGreaterThanOrEqual(0);
  const next = log[limited + 1]!;
  expect(next.at - log[limited]!.at).toBeGreaterThanOrEqual(1950);
});

test('5xx answers while polling are retried and the task still completes', async () => {
  const id = await create('single');
  await new Promise((r) => setTimeout(r, 150));
  emuA.failNext(3, 502, 'retrieve');
  const { video } = await waitForVideo(stack, stack.key, id);
  expect(video.status).toBe('completed');
  expect(emuA.calls('retrieve').filter((r) => r.status === 502)).toHaveLength(3);
});

test("a task past its model's deadline fails with timeout and is cancelled upstream", async () => {
  emuA.behaviour.taskMs = 120_000;
  const id = await create('deadline');
  const { video } = await waitForVideo(stack, stack.key, id, 30_000);
  expect(video.status).toBe('failed');
  expect(video.error.code).toBe('timeout');
  expect(emuA.calls('delete').map((r) => r.status)).toEqual([200]);
});

test('targets of equal priority share tasks round-robin', async () => {
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await create('shared', `kite ${i}`));
  for (const id of ids) expect((await waitForVideo(stack, stack.key, id)).video.status).toBe('completed');
  expect(emuA.acceptedTasks).toBe(2);
  expect(emuB.acceptedTasks).toBe(2);
});

test("a target's concurrency and request-rate limits hold: one task in flight, at most 2 requests a second", async () => {
  const ids = [await create('limited', 'one'), await create('limited', 'two')];
  for (const id of ids) expect((await waitForVideo(stack, stack.key, id)).video.status).toBe('completed');
  const creates = emuB.calls('create').filter((r) => r.status === 200);
  expect(creates).toHaveLength(2);
  const first = await stack.db.task.findUniqueOrThrow({ where: { id: creates[0]!.idempotencyKey! } });
  // The second task reached the upstream only after the first had ended and freed the slot.
  expect(creates[1]!.at).toBeGreaterThanOrEqual(first.completedAt!.getTime());
  // Fixed one-second windows: over any span, no more than 2 per started second (+1 window edge).
  const log = emuB.calls().filter((r) => r.route === 'create' || r.route === 'retrieve');
  const spanMs = log[log.length - 1]!.at - log[0]!.at;
  expect(log.length).toBeLessThanOrEqual(2 * (Math.ceil(spanMs / 1000) + 1));
});

test('a worker that died after submitting but before recording the upstream id causes no second upstream task', async () => {
  const quiet = await startStack(stackEnv(), { worker: false });
  try {
    const key = await quiet.newKey();
    const res = await http(quiet, 'POST', '/v1/videos', {
      key,
      json: { model: 'single', prompt: 'crash test', duration: 1, width: 128, height: 128, fps: 12 },
    });
    const id = res.body.id as string;
    // What the dead worker did: chose the target, submitted with the task id as key, then died.
    const registry = new ProviderRegistry(quiet.config, ModelCatalog.load(catalogFile));
    const target = targetKey({ provider: 'openai-compatible', baseUrl: emuA.url, credentials: 'UPSTREAM_KEY_A' });
    await quiet.db.task.update({ where: { id }, data: { providerTarget: target } });
    const task = await quiet.db.task.findUniqueOrThrow({ where: { id } });
    const first = await registry.get(target)!.submit({
      taskId: id,
      idempotencyKey: id,
      upstreamModel: 'sora-2',
      prompt: task.prompt,
      imagePath: null,
      imageMime: null,
      durationSeconds: 1,
      width: 128,
      height: 128,
      fps: 12,
      seed: Number(task.seed),
      n: 1,
      metadata: {},
    });
    expect(emuA.acceptedTasks).toBe(1);

    const worker = await startWorker(quiet.config);
    try {
      const { video } = await waitForVideo(quiet, key, id);
      expect(video.status).toBe('completed');
    } finally {
      await worker.close();
    }
    expect(emuA.calls('create')).toHaveLength(2);
    expect(emuA.acceptedTasks).toBe(1);
    expect((await quiet.db.task.findUniqueOrThrow({ where: { id } })).upstreamId).toBe(first.upstreamId);
  } finally {
    await quiet.close();
  }
});

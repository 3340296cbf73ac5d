import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVideo, emulatedModel, emulatorTarget, http, OpenAIVideosEmulator, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * The queue dashboard (bull-board) as an operator meets it over HTTP: a task's job is named
 * after the task and shows its progress and steps; a failed task's job is under Failed with the
 * task's error; write actions are refused; the page loads nothing from outside the machine.
 */
const ADMIN = 'admin-token-for-dashboard-tests';
const KEY = 'sk-upstream-dashboard-0000';
const slow = new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 8000, queuedMs: 50 } });
const failing = new OpenAIVideosEmulator({
  apiKey: KEY,
  behaviour: { taskMs: 300, queuedMs: 50, taskFailure: { code: 'internal_error', message: 'GPU node lost' } },
});
const model = (id: string, e: OpenAIVideosEmulator) => emulatedModel(id, [emulatorTarget(e)]);
let stack: Stack;
let dir: string;
let tenant: string;
const board = (method: string, path: string) => http(stack, method, `/admin/queues${path}`, { key: ADMIN });

beforeAll(async () => {
  await slow.start();
  await failing.start();
  dir = mkdtempSync(join(tmpdir(), 'reelay-dashboard-'));
  const catalogFile = join(dir, 'models.json');
  writeFileSync(catalogFile, JSON.stringify({ defaultModel: 'slow', models: [model('slow', slow), model('flaky', failing)] }));
  stack = await startStack({ REELAY_MODELS_FILE: catalogFile, UPSTREAM_KEY: KEY, REELAY_ADMIN_TOKEN: ADMIN });
  tenant = (await http(stack, 'POST', '/admin/v1/keys', { key: ADMIN, json: { name: 'night-studio' } })).body.key;
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await slow.close();
  await failing.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a running task's job is named after the task and shows its progress and steps", async () => {
  const { id } = await createVideo(stack, tenant, { model: 'slow', prompt: 'a slow pan across a neon-lit harbour at midnight, rain falling', seconds: '4' });
  const job = await until(
    'the job to show progress',
    async () => {
      const res = await board('GET', `/api/queues/video-tasks/${id}`);
      return res.status === 200 && res.body.job.progress >= 10 ? res.body.job : null;
    },
    30_000,
  );
  expect(job.name).toBe('slow · night-studio · a slow pan across a neon-lit harbour at…');
  expect(job.data).toEqual({ taskId: id, requestId: expect.any(String) });
  const logs = await board('GET', `/api/queues/video-tasks/${id}/logs`);
  expect(logs.status).toBe(200);
  expect(JSON.stringify(logs.body)).toMatch(/submitted to openai-compatible.* \(attempt 1\), upstream id /);
  await waitForVideo(stack, tenant, id);
  const done = await until('the job to complete', async () => {
    const res = await board('GET', `/api/queues/video-tasks/${id}`);
    return res.body.job?.finishedOn ? res.body.job : null;
  });
  // Completed jobs are kept (for a day) with their final progress.
  expect(done.progress).toBe(100);
  const list = await board('GET', '/api/queues?activeQueue=video-tasks&status=completed&page=1&jobsPerPage=50');
  const queue = list.body.queues.find((q: { name: string }) => q.name === 'video-tasks');
  expect(queue.jobs.map((j: { id: string }) => j.id)).toContain(id);
}, 60_000);

test("a failed task's job is under Failed with the task's error", async () => {
  const { id } = await createVideo(stack, tenant, { model: 'flaky', prompt: 'a storm' });
  expect((await waitForVideo(stack, tenant, id)).video.status).toBe('failed');
  const failed = await until('the job to be listed as failed', async () => {
    const res = await board('GET', '/api/queues?activeQueue=video-tasks&status=failed&page=1&jobsPerPage=50');
    const queue = res.body.queues.find((q: { name: string }) => q.name === 'video-tasks');
    return queue.jobs.find((j: { id: string }) => j.id === id) ?? null;
  });
  expect(failed.name).toBe('flaky · night-studio · a storm');
  expect(failed.failedReason).toBe('upstream_error: GPU node lost');
});

test('write actions are refused and the page loads nothing from outside the machine', async () => {
  const list = await board('GET', '/api/queues?activeQueue=video-tasks&status=failed&page=1');
  const jobId = list.body.queues.find((q: { name: string }) => q.name === 'video-tasks').jobs[0].id;
  for (const [method, path] of [
    ['PUT', `/api/queues/video-tasks/${jobId}/retry`],
    ['PUT', '/api/queues/video-tasks/retry/failed'],
    ['PUT', `/api/queues/video-tasks/${jobId}/clean`],
    ['PUT', '/api/queues/video-tasks/clean/completed'],
    ['PUT', '/api/queues/video-tasks/pause'],
    ['PUT', '/api/queues/video-tasks/empty'],
    ['POST', '/api/queues/video-tasks/add'],
  ] as const) {
    const res = await board(method, path);
    expect([method, path, res.status]).toEqual([method, path, expect.any(Number)]);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  }
  expect((await board('GET', `/api/queues/video-tasks/${jobId}`)).status).toBe(200); // still there
  const page = await board('GET', '/');
  expect(page.status).toBe(200);
  const html = page.bytes.toString('utf8');
  expect(html).not.toMatch(/(src|href)="https?:\/\//);
  expect(html).not.toContain('fonts.googleapis.com');
  const uiConfig = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
  expect(uiConfig.environment.label).toMatch(/^Read-only/);
  expect(uiConfig.miscLinks).toEqual([
    { text: 'Console', url: '/console' },
    { text: 'API docs', url: '/docs' },
  ]);
});

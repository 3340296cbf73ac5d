import { targetKey } from '@reelay/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVideo, emulatedModel, emulatorTarget, http, OpenAIVideosEmulator, until, waitForVideo } from '@reelay/testing';
import { ownDatabase, startStack, type Stack } from './harness';

/**
 * The operator's task API over HTTP: two keys, twenty tasks in every state (completed, failed by
 * the upstream, failed over from one upstream to another, cancelled by the operator, running,
 * waiting on the key's max_concurrent), searched across keys, with timelines, cancel and retry.
 */
const ADMIN = 'admin-token-for-task-api-tests';
const KEY = 'sk-upstream-admin-tasks-0000';
const emulators: Record<'ok' | 'a' | 'b' | 'flaky' | 'slow', OpenAIVideosEmulator> = {
  ok: new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 400, queuedMs: 50 } }),
  a: new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 400, queuedMs: 50 } }),
  b: new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 400, queuedMs: 50 } }),
  flaky: new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 300, queuedMs: 50, taskFailure: { code: 'internal_error', message: 'GPU node lost' } } }),
  slow: new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 120_000, queuedMs: 50 } }),
};
const target = (e: OpenAIVideosEmulator) => emulatorTarget(e);
const model = (id: string, targets: object[]) => emulatedModel(id, targets);

let stack: Stack;
let dir: string;
let start: string;
let end: string;
let key1: { id: string; key: string };
let key2: { id: string; key: string };
const ids = { completed1: [] as string[], completed2: [] as string[], flaky: [] as string[], failover: '', cancelled: '', running: '', waiting: '' };

const admin = (method: string, path: string, json?: unknown) => http(stack, method, path, { key: ADMIN, ...(json !== undefined ? { json } : {}) });
const search = async (query: string) => {
  const res = await admin('GET', `/admin/v1/tasks?created_after=${encodeURIComponent(start)}&created_before=${encodeURIComponent(end)}&${query}`);
  expect(res.status).toBe(200);
  return res.body as { data: { id: string }[]; total: number; has_more: boolean; next_cursor: string | null };
};
const create = async (k: string, m: string, prompt: string, user: string) =>
  (await createVideo(stack, k, { model: m, prompt, user, seconds: '1', size: '128x128' })).id as string;

beforeAll(async () => {
  for (const e of Object.values(emulators)) await e.start();
  dir = mkdtempSync(join(tmpdir(), 'reelay-admin-tasks-'));
  const catalogFile = join(dir, 'models.json');
  writeFileSync(
    catalogFile,
    JSON.stringify({
      defaultModel: 'steady',
      models: [
        model('steady', [target(emulators.ok)]),
        model('failover', [target(emulators.a), target(emulators.b)]),
        model('flaky', [target(emulators.flaky)]),
        model('slow', [target(emulators.slow)]),
      ],
    }),
  );
  // Its own database: the operator's search spans every key, so other files' tasks would count.
  stack = await startStack({ DATABASE_URL: await ownDatabase('admin_tasks'), REELAY_MODELS_FILE: catalogFile, UPSTREAM_KEY: KEY, REELAY_ADMIN_TOKEN: ADMIN });
  start = new Date(Date.now() - 1000).toISOString();
  const made1 = await admin('POST', '/admin/v1/keys', { name: 'studio-one' });
  const made2 = await admin('POST', '/admin/v1/keys', { name: 'studio-two', max_concurrent: 1 });
  key1 = { id: made1.body.id, key: made1.body.key };
  key2 = { id: made2.body.id, key: made2.body.key };

  // Key two's finished work first: its single slot is then free for the long task.
  for (let i = 0; i < 5; i++) ids.completed2.push(await create(key2.key, 'steady', `a quiet harbour at dawn ${i}`, 'bob'));
  for (let i = 0; i < 8; i++) ids.completed1.push(await create(key1.key, 'steady', `a red kite over the sea ${i}`, 'alice'));
  for (let i = 0; i < 3; i++) ids.flaky.push(await create(key1.key, 'flaky', `a storm over the plains ${i}`, 'alice'));
  emulators.a.failNext(1000, 500, 'create');
  ids.failover = await create(key1.key, 'failover', 'a lighthouse in fog', 'alice');
  for (const id of [...ids.completed1, ...ids.flaky, ids.failover]) await waitForVideo(stack, key1.key, id);
  for (const id of ids.completed2) await waitForVideo(stack, key2.key, id);
  emulators.a.clearInjections();

  ids.cancelled = await create(key1.key, 'slow', 'a glacier calving, slowly', 'alice');
  await until('the task to cancel to start', async () => (await admin('GET', `/admin/v1/tasks/${ids.cancelled}`)).body.status === 'processing', 20_000);
  const cancelled = await admin('POST', `/admin/v1/tasks/${ids.cancelled}/cancel`);
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toMatchObject({ status: 'failed', error: { code: 'cancelled', message: 'Cancelled by an operator' } });

  ids.running = await create(key2.key, 'slow', 'a long take of a city at night', 'bob');
  ids.waiting = await create(key2.key, 'slow', 'a second long take', 'bob');
  await until('the first long task to run', async () => (await admin('GET', `/admin/v1/tasks/${ids.running}`)).body.phase === 'processing', 20_000);
  // The window of this file's tasks (other files share the database, some with fixtures dated ahead).
  end = new Date(Date.now() + 1000).toISOString();
}, 120_000);

afterAll(async () => {
  await stack?.close();
  for (const e of Object.values(emulators)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the filters find each group with its total, across keys', async () => {
  const all = await search('limit=100');
  expect(all.total).toBe(20);
  const sorted = (xs: string[]) => [...xs].sort();
  const found = async (q: string) => {
    const page = await search(`${q}&limit=100`);
    expect(page.data).toHaveLength(page.total);
    return sorted(page.data.map((t) => t.id));
  };
  expect(await found('status=failed')).toEqual(sorted([...ids.flaky, ids.cancelled]));
  expect(await found('error_code=cancelled')).toEqual([ids.cancelled]);
  expect(await found('error_code=upstream_error')).toEqual(sorted(ids.flaky));
  expect(await found('phase=waiting')).toEqual([ids.waiting]);
  expect(await found('phase=processing')).toEqual([ids.running]);
  expect(await found('phase=completed')).toEqual(sorted([...ids.completed1, ...ids.completed2, ids.failover]));
  expect(await found(`api_key_id=${key2.id}`)).toEqual(sorted([...ids.completed2, ids.running, ids.waiting]));
  expect(await found(`api_key_id=${key1.id}&status=completed`)).toEqual(sorted([...ids.completed1, ids.failover]));
  expect(await found('model=flaky')).toEqual(sorted(ids.flaky));
  expect(await found(`target=${encodeURIComponent(targetKey(target(emulators.b)))}`)).toEqual([ids.failover]);
  expect(await found('user=bob')).toEqual(sorted([...ids.completed2, ids.running, ids.waiting]));
  expect(await found('q=RED%20KITE')).toEqual(sorted(ids.completed1));
  expect(await found('q=100%25')).toEqual([]); // % is a character, not a wildcard
  const before = await admin('GET', `/admin/v1/tasks?created_before=${encodeURIComponent(start)}&api_key_id=${key1.id}`);
  expect([before.status, before.body.total]).toEqual([200, 0]);

  // Cursor paging: every task of key one exactly once, newest first, the total on every page.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await search(`api_key_id=${key1.id}&limit=5${cursor ? `&after=${cursor}` : ''}`);
    expect(page.total).toBe(13);
    seen.push(...page.data.map((t) => t.id));
    cursor = page.next_cursor;
  } while (cursor);
  expect(seen).toHaveLength(13);
  expect(new Set(seen).size).toBe(13);
});

test("a task's page shows who owns it, where it ran, and its timeline; a failed-over task names both targets", async () => {
  const res = await admin('GET', `/admin/v1/tasks/${ids.failover}`);
  expect(res.status).toBe(200);
  const t = res.body;
  expect(t).toMatchObject({
    api_key_id: key1.id,
    key_name: 'studio-one',
    model: 'failover',
    status: 'completed',
    target: targetKey(target(emulators.b)),
    prompt: 'a lighthouse in fog',
  });
  expect(t.video_url).toMatch(/\/v1\/videos\/vid_.+\/content\?/);
  const kinds = t.timeline.map((e: { kind: string }) => e.kind);
  expect(kinds.slice(0, 2)).toEqual(['created', 'admitted']);
  expect(kinds.at(-1)).toBe('completed');
  const failedAt = t.timeline.find((e: { kind: string }) => e.kind === 'submit_failed');
  const submitted = t.timeline.find((e: { kind: string }) => e.kind === 'submitted');
  expect(failedAt).toMatchObject({ target: targetKey(target(emulators.a)), attempt: 1, code: 'upstream_error' });
  expect(submitted).toMatchObject({ target: targetKey(target(emulators.b)), attempt: 1, upstream_id: expect.any(String) });

  const flaky = (await admin('GET', `/admin/v1/tasks/${ids.flaky[0]}`)).body;
  expect(flaky.timeline.at(-1)).toMatchObject({ kind: 'failed', code: 'upstream_error', message: 'GPU node lost' });
  const cancelled = (await admin('GET', `/admin/v1/tasks/${ids.cancelled}`)).body;
  expect(cancelled.timeline.at(-1)).toMatchObject({ kind: 'cancelled', actor: 'operator', code: 'cancelled' });
  expect((await admin('GET', '/admin/v1/tasks/vid_doesnotexist000000')).status).toBe(404);
});

test('retry of a failed task runs it again as a new task linked to it, and it completes', async () => {
  emulators.flaky.behaviour.taskFailure = null;
  const res = await admin('POST', `/admin/v1/tasks/${ids.flaky[1]}/retry`);
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ retried_from_id: ids.flaky[1], api_key_id: key1.id, model: 'flaky', prompt: 'a storm over the plains 1' });
  const { video } = await waitForVideo(stack, key1.key, res.body.id);
  expect(video.status).toBe('completed');
  const source = (await admin('GET', `/admin/v1/tasks/${ids.flaky[1]}`)).body;
  expect(source.retried_by).toEqual([res.body.id]);
  expect((await admin('GET', `/admin/v1/tasks/${res.body.id}`)).body.timeline[0]).toMatchObject({ kind: 'created', message: `Re-run of ${ids.flaky[1]}` });
  // Only failed tasks are retried; only live ones cancelled.
  expect((await admin('POST', `/admin/v1/tasks/${ids.completed1[0]}/retry`)).status).toBe(409);
  expect((await admin('POST', `/admin/v1/tasks/${ids.completed1[0]}/cancel`)).status).toBe(409);
});

test('stats count tasks per phase, key and target, and the last hour', async () => {
  const res = await admin('GET', '/admin/v1/stats');
  expect(res.status).toBe(200);
  expect(res.body.phases.waiting).toBeGreaterThanOrEqual(1);
  expect(res.body.keys.find((k: { api_key_id: string }) => k.api_key_id === key2.id)).toMatchObject({
    key_name: 'studio-two',
    live: 1,
    waiting: 1,
    completed: 5,
    failed: 0,
  });
  expect(res.body.targets.find((t: { target: string }) => t.target === targetKey(target(emulators.b)))).toMatchObject({ completed: 1 });
  expect(res.body.last_hour.completed).toBeGreaterThanOrEqual(14);
  expect(res.body.last_hour.total_seconds_p50).toBeGreaterThan(0);
});

test.each([
  ['phase=bogus', 'phase'],
  ['status=done', 'status'],
  ['error_code=oops', 'error_code'],
  ['api_key_id=not-a-key', 'api_key_id'],
  ['limit=0', 'limit'],
  ['limit=abc', 'limit'],
  ['limit=101', 'limit'],
  ['created_after=yesterday', 'created_after'],
  ['created_before=2026-13-45', 'created_before'],
  ['created_after=2026-02-01&created_before=2026-01-01', 'created_before'],
  ['after=bm90IGEgY3Vyc29y', 'after'],
  ['phase=waiting&phase=failed', 'phase'],
  ['model[a]=b', 'model[a]'],
  ['q=', 'q'],
  [`q=${'x'.repeat(201)}`, 'q'],
  ['include_deleted=yes', 'include_deleted'],
  ['batch_id=b1', 'batch_id'],
])('GET /admin/v1/tasks?%s is a 400 naming %s', async (query, param) => {
  const res = await admin('GET', `/admin/v1/tasks?${query}`);
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ param, type: 'invalid_request_error' });
});

test('a tenant key gets 401 on every admin and console path', async () => {
  const paths: [string, string][] = [
    ['GET', '/admin/v1/tasks'],
    ['GET', `/admin/v1/tasks/${ids.running}`],
    ['POST', `/admin/v1/tasks/${ids.running}/cancel`],
    ['POST', `/admin/v1/tasks/${ids.flaky[2]}/retry`],
    ['GET', '/admin/v1/stats'],
    ['GET', '/admin/v1/keys'],
    ['GET', '/admin/v1/usage'],
    ['GET', '/admin/queues'],
    ['GET', '/admin/queues/api/queues'],
    ['GET', '/console'],
    ['GET', '/console/assets/console.js'],
    ['GET', '/console/vendor/preact.js'],
    ['GET', '/console/api/v1/tasks'],
    ['POST', `/console/api/v1/tasks/${ids.running}/cancel`],
    ['POST', `/console/api/v1/tasks/${ids.flaky[2]}/retry`],
    ['GET', '/console/api/v1/stats'],
  ];
  for (const [method, path] of paths) {
    for (const k of [key1.key, key2.key]) {
      const res = await http(stack, method, path, { key: k });
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
  }
  // Nothing happened to the tasks those calls named.
  expect((await admin('GET', `/admin/v1/tasks/${ids.running}`)).body.status).toBe('processing');
  expect((await admin('GET', `/admin/v1/tasks/${ids.flaky[2]}`)).body.retried_by).toEqual([]);
});

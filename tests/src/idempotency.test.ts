import { http, solidPng } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// No worker: these tests are about what POST /v1/videos stores, not about rendering.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

const BODY = { prompt: 'idempotent cat', duration: 1, width: 128, height: 128, fps: 24 };
let counter = 0;
const newKey = () => `idem-${Date.now()}-${process.pid}-${counter++}`;
const rows = (idempotencyKey: string) => stack.db.task.count({ where: { idempotencyKey } });
const create = (key: string, idem: string, json: unknown = BODY) => http(stack, 'POST', '/v1/videos', { key, json, headers: { 'idempotency-key': idem } });

test('a retried create with the same key and body returns the same task with 200', async () => {
  const k = newKey();
  const first = await create(stack.key, k);
  expect(first.status).toBe(200);
  const retry = await create(stack.key, k);
  expect(retry.status).toBe(200);
  expect(retry.body.id).toBe(first.body.id);
  expect(retry.body.metadata.seed).toBe(first.body.metadata.seed);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  // The same fields in another order are the same request.
  const reordered = await create(stack.key, k, Object.fromEntries(Object.entries(BODY).reverse()));
  expect(reordered.body.id).toBe(first.body.id);
  expect(await rows(k)).toBe(1);
});

test('the same key with a different body is 409 idempotency_conflict and creates nothing', async () => {
  const k = newKey();
  const first = await create(stack.key, k);
  const other = await create(stack.key, k, { ...BODY, prompt: 'a different cat' });
  expect(other.status).toBe(409);
  expect(other.body).toEqual({
    error: {
      message: expect.stringContaining('different request body'),
      code: 'idempotency_conflict',
      type: 'invalid_request_error',
      param: 'Idempotency-Key',
    },
  });
  expect(await rows(k)).toBe(1);
  expect((await create(stack.key, k)).body.id).toBe(first.body.id);
});

test('keys are scoped per API key: another key with the same Idempotency-Key gets its own task', async () => {
  const k = newKey();
  const other = await stack.newKey();
  const mine = await create(stack.key, k);
  const theirs = await create(other, k);
  expect(theirs.status).toBe(200);
  expect(theirs.body.id).not.toBe(mine.body.id);
  expect(await rows(k)).toBe(2);
  // And neither can see the other's task through the replay.
  expect((await http(stack, 'GET', `/v1/videos/${mine.body.id}`, { key: other })).status).toBe(404);
});

test('20 concurrent duplicates create exactly one task and all answer with its id', async () => {
  const k = newKey();
  const results = await Promise.all(Array.from({ length: 20 }, () => create(stack.key, k)));
  expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
  const ids = new Set(results.map((r) => r.body.id));
  expect(ids.size).toBe(1);
  expect(await rows(k)).toBe(1);
  const task = await stack.db.task.findUniqueOrThrow({ where: { id: [...ids][0] } });
  expect(task.idempotencyKey).toBe(k);
  // One task waits for admission (which queues one job per admitted task); the API queued none
  // itself, so the duplicates cannot have added work. (This stack runs no worker, so no admission.)
  expect([task.status, task.admittedAt]).toEqual(['pending', null]);
  const jobs = await stack.api.deps.tasksQueue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
  expect(jobs.filter((j) => j.data.taskId === task.id)).toHaveLength(0);
});

test('a request that fails validation does not use up its key', async () => {
  const k = newKey();
  const bad = await create(stack.key, k, { ...BODY, duration: 999 });
  expect(bad.status).toBe(400);
  expect(await rows(k)).toBe(0);
  const good = await create(stack.key, k);
  expect(good.status).toBe(200);
  expect((await create(stack.key, k)).body.id).toBe(good.body.id);
});

test('multipart bodies: same fields and image bytes replay, a different image conflicts', async () => {
  const k = newKey();
  const form = (png: Buffer) => {
    const f = new FormData();
    f.append('prompt', 'idempotent upload');
    f.append('seconds', '1');
    f.append('size', '128x128');
    f.append('input_reference', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'ref.png');
    return f;
  };
  const red = solidPng('red');
  const send = (png: Buffer) => http(stack, 'POST', '/v1/videos', { key: stack.key, body: form(png), headers: { 'idempotency-key': k } });
  const first = await send(red);
  expect(first.status).toBe(200);
  const retry = await send(red);
  expect(retry.status).toBe(200);
  expect(retry.body.id).toBe(first.body.id);
  const blue = await send(solidPng('blue'));
  expect(blue.status).toBe(409);
  expect(blue.body.error.code).toBe('idempotency_conflict');
  expect(await rows(k)).toBe(1);
});

test('a malformed Idempotency-Key is a 400 naming the header', async () => {
  const res = await create(stack.key, 'x'.repeat(256));
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param: 'Idempotency-Key' });
});

test('a replay after the video was deleted is 409 idempotency_conflict, not the deleted video and not a new one', async () => {
  const k = newKey();
  const first = await create(stack.key, k);
  expect((await http(stack, 'DELETE', `/v1/videos/${first.body.id}`, { key: stack.key })).status).toBe(200);
  const replay = await create(stack.key, k);
  expect(replay.status).toBe(409);
  expect(replay.body.error).toMatchObject({ code: 'idempotency_conflict', param: 'Idempotency-Key' });
  expect(replay.body.error.message).toContain(`video ${first.body.id}, which has since been deleted`);
  expect(replay.headers.get('idempotent-replayed')).toBeNull();
  expect(await rows(k)).toBe(1);
});

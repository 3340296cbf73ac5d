import { readFileSync, writeFileSync } from 'node:fs';
import OpenAI, { BadRequestError, NotFoundError, toFile } from 'openai';
import { newWebhookSecret } from '@reelay/core';
import { isMp4, until, webhookReceiver, writeTestCatalog } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * The Files and Batches APIs driven by the official openai SDK, on a real stack (preview renderer,
 * Redis, Postgres): upload a JSONL file, create a batch for /v1/videos, poll it, read its output.
 */
const catalog = writeTestCatalog();
// A priced copy of `tiny`, so a budget can refuse a batch.
const catalogFile = JSON.parse(readFileSync(catalog, 'utf8')) as { models: { id: string }[] };
catalogFile.models.push({ ...catalogFile.models.find((m) => m.id === 'tiny')!, id: 'tiny-priced', pricing: [{ microsPerSecond: 1000 }] } as { id: string });
writeFileSync(catalog, JSON.stringify(catalogFile));
const TINY = { model: 'tiny', duration: 1, width: 64, height: 64, fps: 10 };
let stack: Stack;
let openai: OpenAI;

const client = (s: Stack, apiKey: string): OpenAI => new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
const jsonl = (lines: unknown[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
const line = (customId: string, body: Record<string, unknown> = {}) => ({
  custom_id: customId,
  method: 'POST',
  url: '/v1/videos',
  body: { ...TINY, prompt: `clip ${customId}`, ...body },
});

async function upload(o: OpenAI, text: string, purpose: 'batch' | 'user_data' = 'batch'): Promise<OpenAI.Files.FileObject> {
  return o.files.create({ file: await toFile(Buffer.from(text), 'requests.jsonl'), purpose });
}

async function waitFor(o: OpenAI, id: string, done: (b: OpenAI.Batches.Batch) => boolean, timeoutMs = 120_000): Promise<OpenAI.Batches.Batch> {
  return until(
    `batch ${id}`,
    async () => {
      const b = await o.batches.retrieve(id);
      return done(b) ? b : null;
    },
    timeoutMs,
  );
}
const final = (b: OpenAI.Batches.Batch): boolean => ['completed', 'failed', 'cancelled', 'expired'].includes(b.status);

async function readLines(o: OpenAI, fileId: string): Promise<Record<string, any>[]> {
  const res = await o.files.content(fileId);
  return (await res.text())
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

async function keyRow(s: Stack, secret: string) {
  return (await s.db.apiKey.findFirst({ where: { keyPrefix: secret.slice(0, 8) }, orderBy: { createdAt: 'desc' } }))!;
}

beforeAll(async () => {
  stack = await startStack({
    REELAY_MODELS_FILE: catalog,
    REELAY_MAX_FILE_BYTES: '1000000',
    WORKER_BATCH_CHECK_MS: '200',
    REELAY_FETCH_ALLOW_HOSTS: '127.0.0.1',
  });
  openai = client(stack, stack.key);
});
afterAll(async () => {
  await stack.close();
});

test('files: upload, retrieve, list by purpose, content, delete; 413 over the cap names file; bad purpose names purpose', async () => {
  const text = jsonl([line('a')]);
  const file = await upload(openai, text);
  expect(file).toMatchObject({ object: 'file', bytes: Buffer.byteLength(text), filename: 'requests.jsonl', purpose: 'batch', expires_at: null });
  expect(file.id).toMatch(/^file-/);
  expect(await openai.files.retrieve(file.id)).toMatchObject({ id: file.id, bytes: file.bytes });
  const other = await upload(openai, 'notes', 'user_data');
  const listed = [];
  for await (const f of openai.files.list({ purpose: 'batch' })) listed.push(f.id);
  expect(listed).toContain(file.id);
  expect(listed).not.toContain(other.id);
  expect(await (await openai.files.content(file.id)).text()).toBe(text);
  expect(await openai.files.delete(file.id)).toMatchObject({ id: file.id, object: 'file', deleted: true });
  await expect(openai.files.retrieve(file.id)).rejects.toBeInstanceOf(NotFoundError);

  const big = openai.files.create({ file: await toFile(Buffer.alloc(1_200_000, 97), 'big.jsonl'), purpose: 'batch' });
  await expect(big).rejects.toMatchObject({ status: 413, error: { param: 'file', code: 'payload_too_large' } });
  const badPurpose = openai.files.create({ file: await toFile(Buffer.from('x'), 'x.jsonl'), purpose: 'fine-tune' as 'batch' });
  await expect(badPurpose).rejects.toMatchObject({ status: 400, error: { param: 'purpose' } });
});

test('Idempotency-Key on POST /v1/files and POST /v1/batches replays the first answer', async () => {
  const text = jsonl([line('idem-1')]);
  const run = Math.random().toString(36).slice(2);
  const f1 = await openai.files.create(
    { file: await toFile(Buffer.from(text), 'i.jsonl'), purpose: 'batch' },
    { headers: { 'Idempotency-Key': `file-${run}` } },
  );
  const f2 = await openai.files.create(
    { file: await toFile(Buffer.from(text), 'i.jsonl'), purpose: 'batch' },
    { headers: { 'Idempotency-Key': `file-${run}` } },
  );
  expect(f2.id).toBe(f1.id);
  const conflict = openai.files.create(
    { file: await toFile(Buffer.from('other'), 'i.jsonl'), purpose: 'batch' },
    { headers: { 'Idempotency-Key': `file-${run}` } },
  );
  await expect(conflict).rejects.toMatchObject({ status: 409 });
  const params = { input_file_id: f1.id, endpoint: '/v1/videos' as const, completion_window: '24h' as const };
  const b1 = await openai.batches.create(params, { headers: { 'Idempotency-Key': `batch-${run}` } });
  const b2 = await openai.batches.create(params, { headers: { 'Idempotency-Key': `batch-${run}` } });
  expect(b2.id).toBe(b1.id);
  expect(await stack.db.batch.count({ where: { idempotencyKey: `batch-${run}` } })).toBe(1);
  await waitFor(openai, b1.id, final);
});

test('a batch runs to completed: one output line per request, each video downloadable, tasks visible with batch and custom ids', async () => {
  const file = await upload(
    openai,
    jsonl([
      line('one'),
      line('two', { seconds: '1', size: '64x64', duration: undefined, width: undefined, height: undefined }),
      line('three', { metadata: { tag: 'x' } }),
    ]),
  );
  const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h', metadata: { job: 'nightly' } });
  expect(created).toMatchObject({
    object: 'batch',
    endpoint: '/v1/videos',
    status: 'validating',
    input_file_id: file.id,
    completion_window: '24h',
    metadata: { job: 'nightly' },
  });
  const seen = new Set<string>();
  const done = await waitFor(openai, created.id, (b) => (seen.add(b.status), final(b)));
  expect(done.status).toBe('completed');
  expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
  for (const t of ['in_progress_at', 'finalizing_at', 'completed_at'] as const) expect(done[t]).toEqual(expect.any(Number));
  expect(done.error_file_id).toBeNull();
  const out = await readLines(openai, done.output_file_id!);
  expect(out.map((l) => l.custom_id)).toEqual(['one', 'two', 'three']);
  for (const l of out) {
    expect(l).toMatchObject({ response: { status_code: 200, body: { object: 'video', status: 'completed' } }, error: null });
    expect(l.id).toMatch(/^batch_req_/);
    // The signed url works without the API key, and so does the SDK's download.
    const viaUrl = await fetch(l.response.body.url);
    expect(viaUrl.status).toBe(200);
    expect(isMp4(Buffer.from(await viaUrl.arrayBuffer()))).toBe(true);
    const viaSdk = Buffer.from(await (await openai.videos.downloadContent(l.response.body.id)).arrayBuffer());
    expect(isMp4(viaSdk)).toBe(true);
  }
  expect(out[2]!.response.body.metadata).toMatchObject({ tag: 'x' });
  const outFile = await openai.files.retrieve(done.output_file_id!);
  expect(outFile).toMatchObject({ purpose: 'batch_output' });
  const tasks = await stack.db.task.findMany({ where: { batchId: created.id }, orderBy: { batchLine: 'asc' } });
  expect(tasks.map((t) => [t.customId, t.batchLine])).toEqual([
    ['one', 1],
    ['two', 2],
    ['three', 3],
  ]);
  const listed = [];
  for await (const b of openai.batches.list({ limit: 2 })) listed.push(b.id);
  expect(listed).toContain(created.id);
});

test('a malformed file fails the batch with errors naming each bad line, and creates no task', async () => {
  const file = await upload(
    openai,
    jsonl([
      line('ok-1'),
      '{"custom_id": "broken", ',
      line('ok-1'),
      { ...line('m'), method: 'GET' },
      { ...line('u'), url: '/v1/chat/completions' },
      line('bad-body', { duration: 999 }),
      line('bad-model', { model: 'no-such-model' }),
    ]),
  );
  const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
  const done = await waitFor(openai, created.id, final);
  expect(done.status).toBe('failed');
  expect(done.failed_at).toEqual(expect.any(Number));
  const errors = done.errors!.data!;
  expect(errors.map((e) => [e.line, e.code])).toEqual([
    [2, 'invalid_json'],
    [3, 'duplicate_custom_id'],
    [4, 'invalid_method'],
    [5, 'invalid_url'],
    [6, 'invalid_parameter'],
    [7, 'invalid_parameter'],
  ]);
  expect(errors[4]!.param).toBe('body.duration');
  expect(errors[5]!.param).toBe('body.model');
  expect(await stack.db.task.count({ where: { batchId: created.id } })).toBe(0);
  expect(done.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
});

test("create refuses another endpoint, another window, and a file that is not the key's or not of purpose batch", async () => {
  const file = await upload(openai, jsonl([line('x')]));
  await expect(openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({
    status: 400,
    error: { param: 'endpoint' },
  });
  await expect(openai.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '48h' as '24h' })).rejects.toMatchObject({
    status: 400,
    error: { param: 'completion_window' },
  });
  const notes = await upload(openai, jsonl([line('x')]), 'user_data');
  await expect(openai.batches.create({ input_file_id: notes.id, endpoint: '/v1/videos', completion_window: '24h' })).rejects.toMatchObject({
    status: 400,
    error: { param: 'input_file_id' },
  });
  const stranger = client(stack, await stack.newKey());
  await expect(stranger.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' })).rejects.toBeInstanceOf(BadRequestError);
});

test('tenant isolation: another key sees none of the files or batches (404 on every route)', async () => {
  const file = await upload(openai, jsonl([line('iso')]));
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
  const stranger = client(stack, await stack.newKey());
  await expect(stranger.files.retrieve(file.id)).rejects.toBeInstanceOf(NotFoundError);
  await expect(stranger.files.content(file.id)).rejects.toBeInstanceOf(NotFoundError);
  await expect(stranger.files.delete(file.id)).rejects.toBeInstanceOf(NotFoundError);
  await expect(stranger.batches.retrieve(batch.id)).rejects.toBeInstanceOf(NotFoundError);
  await expect(stranger.batches.cancel(batch.id)).rejects.toBeInstanceOf(NotFoundError);
  const files = [];
  for await (const f of stranger.files.list()) files.push(f);
  const batches = [];
  for await (const b of stranger.batches.list()) batches.push(b);
  expect(files).toEqual([]);
  expect(batches).toEqual([]);
  // The owner still has both.
  expect((await openai.files.retrieve(file.id)).id).toBe(file.id);
  await waitFor(openai, batch.id, final);
});

test('cancel mid-run: cancelled, partial output for what completed, counts add up, nothing of it left running', async () => {
  const secret = await stack.newKey();
  await stack.db.apiKey.update({ where: { id: (await keyRow(stack, secret)).id }, data: { maxConcurrent: 1 } });
  const o = client(stack, secret);
  const file = await upload(o, jsonl(Array.from({ length: 8 }, (_, i) => line(`c${i}`, { duration: 2 }))));
  const batch = await o.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
  await waitFor(o, batch.id, (b) => b.request_counts!.completed >= 1);
  const cancelling = await o.batches.cancel(batch.id);
  expect(['cancelling', 'cancelled']).toContain(cancelling.status);
  const done = await waitFor(o, batch.id, final);
  expect(done.status).toBe('cancelled');
  expect(done.cancelled_at).toEqual(expect.any(Number));
  const { total, completed, failed } = done.request_counts!;
  expect(total).toBe(8);
  expect(completed).toBeGreaterThanOrEqual(1);
  expect(completed).toBeLessThan(8);
  expect(completed + failed).toBe(total);
  expect(await stack.db.task.count({ where: { batchId: batch.id, status: { in: ['pending', 'processing'] } } })).toBe(0);
  const out = await readLines(o, done.output_file_id!);
  expect(out).toHaveLength(completed);
  const errs = await readLines(o, done.error_file_id!);
  expect(errs).toHaveLength(failed);
  expect(errs.every((l) => l.error.code === 'cancelled')).toBe(true);
  // Money: every reservation of the batch was closed.
  const key = await keyRow(stack, secret);
  const charged = await stack.db.task.aggregate({ where: { batchId: batch.id, status: 'completed' }, _sum: { costMicros: true } });
  expect(key.committedMicros).toBe(charged._sum.costMicros ?? 0n);
  await expect(o.batches.cancel(batch.id)).resolves.toMatchObject({ status: 'cancelled' });
});

test("a batch that does not fit the key's budget fails with insufficient_quota and creates nothing", async () => {
  const secret = await stack.newKey();
  await stack.db.apiKey.update({ where: { id: (await keyRow(stack, secret)).id }, data: { budgetMicros: 1500n } });
  const o = client(stack, secret);
  // 1,000 micro-units per line: one line fits the budget, the batch of two does not.
  const file = await upload(o, jsonl([line('b1', { model: 'tiny-priced' }), line('b2', { model: 'tiny-priced' })]));
  const batch = await o.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
  const done = await waitFor(o, batch.id, final);
  expect(done.status).toBe('failed');
  expect(done.errors!.data![0]).toMatchObject({ code: 'insufficient_quota' });
  expect(await stack.db.task.count({ where: { batchId: batch.id } })).toBe(0);
});

test("batch.completed and batch.failed webhooks go to the key's webhook URL, verified by webhooks.unwrap, and the batch's tasks send none of their own", async () => {
  const { server, url, received } = await webhookReceiver();
  try {
    const secret = await stack.newKey();
    const hookSecret = newWebhookSecret();
    await stack.db.apiKey.update({ where: { id: (await keyRow(stack, secret)).id }, data: { webhookUrl: url, webhookSecret: hookSecret } });
    const o = client(stack, secret);
    const good = await o.batches.create({
      input_file_id: (await upload(o, jsonl([line('w1'), line('w2')]))).id,
      endpoint: '/v1/videos',
      completion_window: '24h',
    });
    const bad = await o.batches.create({ input_file_id: (await upload(o, jsonl(['not json']))).id, endpoint: '/v1/videos', completion_window: '24h' });
    expect((await waitFor(o, good.id, final)).status).toBe('completed');
    expect((await waitFor(o, bad.id, final)).status).toBe('failed');
    const verifier = new OpenAI({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9/unused' });
    const events = await until(
      'both batch events',
      async () => {
        const evs = await Promise.all(received.map((r) => verifier.webhooks.unwrap(r.body, r.headers as Record<string, string>, hookSecret)));
        return evs.length >= 2 ? evs : null;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500)); // anything else sent would have arrived by now
    expect(received).toHaveLength(2);
    expect(events.map((e) => [e.type, (e as { data: { id: string } }).data.id])).toEqual(
      expect.arrayContaining([
        ['batch.completed', good.id],
        ['batch.failed', bad.id],
      ]),
    );
    // Each delivery is on record for the operator, once, against its batch.
    const recorded = await until(
      'both deliveries recorded',
      async () => {
        const rows = await stack.db.webhookDelivery.findMany({
          where: { batchId: { in: [good.id, bad.id] } },
          select: { batchId: true, status: true, taskId: true },
        });
        return rows.length >= 2 ? rows : null;
      },
      10_000,
    );
    expect(recorded.map((r) => [r.batchId, r.status, r.taskId]).sort()).toEqual(
      [
        [bad.id, 'delivered', null],
        [good.id, 'delivered', null],
      ].sort(),
    );
  } finally {
    server.close();
  }
});

describe('a short completion window and batch webhooks', () => {
  let short: Stack;
  let rx: Awaited<ReturnType<typeof webhookReceiver>>;
  beforeAll(async () => {
    short = await startStack({
      REELAY_MODELS_FILE: catalog,
      REELAY_BATCH_WINDOW_SECONDS: '3',
      WORKER_BATCH_CHECK_MS: '200',
      REELAY_FETCH_ALLOW_HOSTS: '127.0.0.1',
      WEBHOOK_BACKOFF_MS: '200',
    });
    rx = await webhookReceiver();
  });
  afterAll(async () => {
    rx.server.close();
    await short.close();
  });

  test('past its window the batch is expired: unfinished requests get batch_expired lines; a batch.expired webhook verifies with webhooks.unwrap', async () => {
    const secret = await short.newKey();
    const hookSecret = newWebhookSecret();
    await short.db.apiKey.update({
      where: { id: (await keyRow(short, secret)).id },
      data: { maxConcurrent: 1, webhookUrl: rx.url, webhookSecret: hookSecret },
    });
    const o = client(short, secret);
    // One at a time (max_concurrent 1): far more requests than a 3 s window can finish.
    const file = await upload(o, jsonl(Array.from({ length: 30 }, (_, i) => line(`e${i}`, { duration: 4 }))));
    const batch = await o.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
    const done = await waitFor(o, batch.id, final);
    expect(done.status).toBe('expired');
    expect(done.expired_at).toEqual(expect.any(Number));
    const { total, completed, failed } = done.request_counts!;
    expect(total).toBe(30);
    expect(completed + failed).toBe(30);
    expect(failed).toBeGreaterThan(0);
    const errs = await readLines(o, done.error_file_id!);
    expect(errs.filter((l) => l.error.code === 'batch_expired').length).toBe(failed);
    expect(await short.db.task.count({ where: { batchId: batch.id, status: { in: ['pending', 'processing'] } } })).toBe(0);

    const verifier = new OpenAI({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9/unused' });
    const events = await until(
      'the batch.expired event',
      async () => {
        const evs = await Promise.all(rx.received.map((r) => verifier.webhooks.unwrap(r.body, r.headers as Record<string, string>, hookSecret)));
        return evs.length >= 1 ? evs : null;
      },
      30_000,
    );
    expect(events.map((e) => [e.type, (e as { data: { id: string } }).data.id])).toEqual([['batch.expired', batch.id]]);
    // Tasks of a batch do not announce themselves one by one.
    expect(events.every((e) => e.type.startsWith('batch.'))).toBe(true);
  });
});

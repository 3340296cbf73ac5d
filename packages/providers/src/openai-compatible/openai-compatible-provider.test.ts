import { parseConfig } from '@reelay/config';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesOf, emulatedContent, OpenAIVideosEmulator, submitRequest, until } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { PollResult, SubmitRequest } from '../provider';
import { OpenAICompatibleProvider } from './openai-compatible-provider';

const KEY = 'sk-emulated-secret-key-123';
let emu: OpenAIVideosEmulator;

const providerFor = (opts: { timeoutMs?: number; dialect?: 'openai' | 'seed'; apiKey?: string } = {}) =>
  new OpenAICompatibleProvider({
    targetKey: 'openai-compatible|test|',
    baseUrl: emu.url,
    apiKey: opts.apiKey ?? KEY,
    requestTimeoutMs: opts.timeoutMs ?? 5000,
    options: opts.dialect ? { dialect: opts.dialect } : {},
    config: parseConfig({}),
  });

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: `vid_test${Math.random().toString(36).slice(2)}`,
    idempotencyKey: '',
    upstreamModel: 'sora-2',
    prompt: 'a lighthouse at dusk',
    durationSeconds: 4,
    ...over,
  });

async function untilDone(p: OpenAICompatibleProvider, id: string): Promise<{ last: PollResult; seen: PollResult[] }> {
  const seen: PollResult[] = [];
  const last = await until(`upstream task ${id} to end`, async () => {
    const r = await p.poll(id);
    seen.push(r);
    return r.state === 'succeeded' || r.state === 'failed' ? r : null;
  });
  return { last, seen };
}

beforeEach(async () => {
  emu = new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 800, queuedMs: 100 } });
  await emu.start();
});
afterEach(async () => emu.close());

test('a task waiting upstream reads as queued', async () => {
  emu.behaviour.queuedMs = 60_000;
  const p = providerFor();
  const { upstreamId } = await p.submit(request());
  expect(await p.poll(upstreamId)).toMatchObject({ state: 'queued' });
});

test('a task succeeds with rising progress; the content downloads; the key and Idempotency-Key are sent', async () => {
  emu.behaviour.taskMs = 3000;
  const p = providerFor();
  const req = request();
  req.idempotencyKey = req.taskId;
  const { upstreamId } = await p.submit(req);
  const { last, seen } = await untilDone(p, upstreamId);
  expect(last.state).toBe('succeeded');
  const progress = seen.filter((r) => r.state === 'running').map((r) => (r as { progress?: number }).progress!);
  expect(progress.length).toBeGreaterThan(1);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  if (last.state !== 'succeeded') throw new Error('unreachable');
  expect(last.producedSeconds).toBe(4);
  expect(await bytesOf(await p.fetchOutput(last.outputs[0]!.video))).toEqual(emulatedContent(upstreamId, 'video'));
  const create = emu.calls('create')[0]!;
  expect(create.idempotencyKey).toBe(req.taskId);
  expect(create.authorized).toBe(true);
  expect(create.fields).toMatchObject({ model: 'sora-2', prompt: 'a lighthouse at dusk', seconds: '4', size: '1280x720' });
  expect(create.fields!.fps).toBeUndefined(); // OpenAI dialect: no seed-only fields
});

test('the seed dialect sends duration/size fields and understands pending/processing', async () => {
  emu.behaviour.seedDialect = true;
  const p = providerFor({ dialect: 'seed' });
  const { upstreamId } = await p.submit(request());
  const { last, seen } = await untilDone(p, upstreamId);
  expect(last.state).toBe('succeeded');
  expect(seen.map((r) => r.state)).toContain('running');
  expect(emu.calls('create')[0]!.fields).toMatchObject({ fps: '24', seed: '7', n: '1' });
  expect(emu.calls('retrieve').some((r) => r.status === 200)).toBe(true);
});

test('an image goes as multipart input_reference', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oai-img-'));
  try {
    const img = join(dir, 'in.png');
    writeFileSync(img, Buffer.alloc(300, 1));
    await providerFor().submit(request({ imagePath: img, imageMime: 'image/png' }));
    const create = emu.calls('create')[0]!;
    expect(create.contentType).toMatch(/^multipart\/form-data/);
    expect(create.fields!.input_reference).toBe('<file 300 bytes>');
    expect(create.fields!.prompt).toBe('a lighthouse at dusk');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a task the upstream fails surfaces the upstream's message and code", async () => {
  emu.behaviour.taskFailure = { code: 'internal_error', message: 'The render farm caught fire' };
  const p = providerFor();
  const { upstreamId } = await p.submit(request());
  const { last } = await untilDone(p, upstreamId);
  expect(last).toEqual({ state: 'failed', code: 'upstream_error', message: 'The render farm caught fire' });
});

test('a content-policy refusal is permanent with code content_policy_violation', async () => {
  emu.behaviour.contentPolicyOnCreate = true;
  const err = await providerFor()
    .submit(request())
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).code).toBe('content_policy_violation');
  expect((err as Error).message).toBe('Your request was blocked by our moderation system.');
  emu.behaviour.contentPolicyOnCreate = false;
  emu.behaviour.taskFailure = { code: 'moderation_blocked', message: 'Output blocked by moderation' };
  const { upstreamId } = await providerFor().submit(request());
  expect((await untilDone(providerFor(), upstreamId)).last).toMatchObject({ state: 'failed', code: 'content_policy_violation' });
});

test('a wrong key is a permanent auth error (code upstream_error) and the key is never logged', async () => {
  const err = await providerFor({ apiKey: 'sk-wrong' })
    .submit(request())
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect(err).toMatchObject({ reason: 'auth', code: 'upstream_error', message: 'Incorrect API key provided.' });
  expect(JSON.stringify(err)).not.toContain('sk-wrong');
});

test('429 carries the Retry-After delay; the next call after it succeeds', async () => {
  emu.rateLimitNext(1, 3, 'create');
  const p = providerFor();
  const err = await p.submit(request()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RateLimitedError);
  expect((err as RateLimitedError).retryAfterMs).toBe(3000);
  await expect(p.submit(request())).resolves.toHaveProperty('upstreamId');
  expect(emu.acceptedTasks).toBe(1);
});

test('5xx answers are transient; a retried call succeeds once the burst ends', async () => {
  emu.failNext(2, 503, 'retrieve');
  const p = providerFor();
  const { upstreamId } = await p.submit(request());
  for (let i = 0; i < 2; i++) {
    const err = await p.poll(upstreamId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientProviderError);
    expect(err).toMatchObject({ reason: 'server', status: 503 });
  }
  expect((await untilDone(p, upstreamId)).last.state).toBe('succeeded');
});

test('a hanging upstream times out as a transient error', async () => {
  emu.hangNext(1, 'retrieve');
  const p = providerFor({ timeoutMs: 300 });
  const { upstreamId } = await p.submit(request());
  const started = Date.now();
  const err = await p.poll(upstreamId).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TransientProviderError);
  expect((err as TransientProviderError).reason).toBe('timeout');
  expect(Date.now() - started).toBeLessThan(4000);
  expect((await untilDone(p, upstreamId)).last.state).toBe('succeeded');
});

test('cancel deletes the upstream task; a second cancel is harmless', async () => {
  emu.behaviour.taskMs = 60_000;
  const p = providerFor();
  const { upstreamId } = await p.submit(request());
  await p.cancel(upstreamId);
  await p.cancel(upstreamId);
  expect(emu.calls('delete').map((r) => r.status)).toEqual([200, 404]);
  await expect(p.poll(upstreamId)).rejects.toBeInstanceOf(PermanentProviderError);
});

test('a create repeated with the same Idempotency-Key returns the same upstream task', async () => {
  const p = providerFor();
  const req = request();
  req.idempotencyKey = req.taskId;
  const a = await p.submit(req);
  const b = await p.submit(req);
  expect(b.upstreamId).toBe(a.upstreamId);
  expect(emu.calls('create')).toHaveLength(2);
  expect(emu.acceptedTasks).toBe(1);
});

test("edits and extensions go to the upstream's own endpoints with the source MP4 uploaded as `video`", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oai-source-'));
  try {
    const source = join(dir, 'source.mp4');
    writeFileSync(source, Buffer.alloc(3000, 1));
    const p = providerFor();
    const edit = await p.submit(request({ operation: 'edit', prompt: 'now at night', sourceVideoPath: source, sourceSeconds: 4, idempotencyKey: 'edit-1' }));
    const extend = await p.submit(request({ operation: 'extend', prompt: 'and on', durationSeconds: 8, sourceVideoPath: source, sourceSeconds: 4 }));
    const [e] = emu.calls('edit');
    const [x] = emu.calls('extend');
    expect(e).toMatchObject({
      path: '/v1/videos/edits',
      status: 200,
      idempotencyKey: 'edit-1',
      fields: { prompt: 'now at night', video: '<file 3000 bytes>' },
    });
    expect(e!.contentType).toMatch(/^multipart\/form-data/);
    expect(e!.fields).not.toHaveProperty('model'); // OpenAI's edit body has none
    expect(x).toMatchObject({ path: '/v1/videos/extensions', fields: { prompt: 'and on', seconds: '4', video: '<file 3000 bytes>' } });
    expect(emu.calls('create')).toEqual([]);
    expect((await untilDone(p, edit.upstreamId)).last.state).toBe('succeeded');
    const done = (await untilDone(p, extend.upstreamId)).last;
    expect(done).toMatchObject({ state: 'succeeded', producedSeconds: 8 });
    await expect(p.submit(request({ operation: 'edit', sourceVideoPath: null }))).rejects.toBeInstanceOf(PermanentProviderError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

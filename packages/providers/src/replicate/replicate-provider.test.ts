import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesOf, rejection, ReplicateEmulator, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { ReplicateProvider } from './replicate-provider';

const TOKEN = 'r8_test_token_0123456789';
const video = randomBytes(64 * 1024);
let emu: ReplicateEmulator;
let provider: ReplicateProvider;
let dir: string;

beforeEach(async () => {
  emu = new ReplicateEmulator({ token: TOKEN, video });
  await emu.start();
  provider = new ReplicateProvider({ apiToken: TOKEN, baseUrl: emu.url, requestTimeoutMs: 1000 });
  dir = mkdtempSync(join(tmpdir(), 'replicate-test-'));
});
afterEach(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({ taskId: 'vid_test', upstreamModel: 'acme/video-model', seed: 42, metadata: { negative_prompt: 'blurry' }, ...over });

test('an official model is submitted with mapped inputs, polled to success, and its output downloaded', async () => {
  const { upstreamId } = await provider.submit(request());
  const create = emu.requests('POST', /^\/v1\/models\/acme\/video-model\/predictions$/)[0]!;
  expect(create.headers.authorization).toBe(`Bearer ${TOKEN}`);
  expect(create.headers.prefer).toBeUndefined();
  expect(create.json).toEqual({
    input: { prompt: 'A lighthouse at dusk', duration: 5, aspect_ratio: '16:9', resolution: '720p', seed: 42, negative_prompt: 'blurry' },
  });

  expect(await provider.poll(upstreamId)).toEqual({ state: 'running', progress: 50 });
  const done = await provider.poll(upstreamId);
  expect(done.state).toBe('succeeded');
  if (done.state !== 'succeeded') return;
  expect(done.outputs).toHaveLength(1);
  expect((await bytesOf(await provider.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
});

test('a pinned version goes to /v1/predictions with `version`, and an input image travels as a data URL', async () => {
  const version = 'a'.repeat(64);
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(32)]);
  writeFileSync(join(dir, 'in.png'), png);
  await provider.submit(request({ upstreamModel: `acme/video-model:${version}`, imagePath: join(dir, 'in.png'), width: 720, height: 1280 }));
  const body = emu.requests('POST', /^\/v1\/predictions$/)[0]!.json as { version: string; input: Record<string, unknown> };
  expect(body.version).toBe(version);
  expect(body.input.aspect_ratio).toBe('9:16');
  expect(body.input.image).toBe(`data:image/png;base64,${png.toString('base64')}`);
});

test("a failed prediction surfaces Replicate's error message", async () => {
  const { upstreamId } = await provider.submit(request({ prompt: 'please fail' }));
  await provider.poll(upstreamId);
  expect(await provider.poll(upstreamId)).toEqual({ state: 'failed', code: 'upstream_error', message: 'replicate: CUDA out of memory' });
});

test('a safety refusal is reported as a content policy violation', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request());
  await emu.fail(upstreamId, 'NSFW content detected. Try running it again, or try a different prompt.');
  expect(await provider.poll(upstreamId)).toMatchObject({ state: 'failed', code: 'content_policy_violation' });
});

test('an invalid input (422) is a permanent error naming the field', async () => {
  const err = await rejection(provider.submit(request({ prompt: '' })));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toContain('input.prompt: prompt is required');
});

test('a wrong token is a permanent error', async () => {
  const bad = new ReplicateProvider({ apiToken: 'r8_wrong', baseUrl: emu.url });
  const err = await rejection(bad.submit(request()));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).reason).toBe('auth');
  expect(err.message).toContain('valid authentication token');
});

test('429 is a rate-limit error carrying Retry-After', async () => {
  emu.server.interrupt({
    status: 429,
    headers: { 'retry-after': '7' },
    body: { title: 'Request was throttled.', detail: 'Request was throttled. Expected available in 7 seconds.', status: 429 },
  });
  const err = await rejection(provider.submit(request()));
  expect(err).toBeInstanceOf(RateLimitedError);
  expect((err as RateLimitedError).retryAfterMs).toBe(7000);
  expect(err.message).toContain('Expected available in 7 seconds');
});

test('a 5xx is transient, and the retried poll succeeds', async () => {
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 503, body: { title: 'Service Unavailable', status: 503 } });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  expect((await provider.poll(upstreamId)).state).toBe('running');
});

test('an upstream that does not answer in time is a transient timeout', async () => {
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ delayMs: 3000 });
  const err = await rejection(provider.poll(upstreamId));
  expect(err).toBeInstanceOf(TransientProviderError);
  expect(err.message).toContain('timed out after 1000 ms');
});

test('cancel stops the prediction upstream', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request());
  await provider.cancel(upstreamId);
  expect(emu.predictions.get(upstreamId)!.status).toBe('canceled');
  expect(await provider.poll(upstreamId)).toMatchObject({ state: 'failed', code: 'cancelled' });
});

test('an output deleted after its hour is a permanent download error', async () => {
  const { upstreamId } = await provider.submit(request());
  await provider.poll(upstreamId);
  const done = await provider.poll(upstreamId);
  if (done.state !== 'succeeded') throw new Error('expected success');
  emu.expire(upstreamId);
  expect(await rejection(provider.fetchOutput(done.outputs[0]!.video))).toBeInstanceOf(PermanentProviderError);
});

test('a download larger than the cap is refused', async () => {
  const small = new ReplicateProvider({ apiToken: TOKEN, baseUrl: emu.url, maxDownloadBytes: 1000 });
  const { upstreamId } = await small.submit(request());
  await small.poll(upstreamId);
  const done = await small.poll(upstreamId);
  if (done.state !== 'succeeded') throw new Error('expected success');
  expect((await rejection(small.fetchOutput(done.outputs[0]!.video))).message).toContain('larger than 1000 bytes');
});

test('a webhook URL is registered for the completed event only, and its delivery verifies', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request({ webhookUrl: 'http://127.0.0.1:1/hook?task=vid_test' }));
  const body = emu.requests('POST', /predictions$/)[0]!.json as Record<string, unknown>;
  expect(body.webhook).toBe('http://127.0.0.1:1/hook?task=vid_test');
  expect(body.webhook_events_filter).toEqual(['completed']);

  // The secret is fetched from the API once (GET /v1/webhooks/default/secret), then reused.
  await emu.complete(upstreamId).catch(() => undefined); // the delivery itself fails: nothing listens on port 1
  const payload = JSON.stringify({ id: upstreamId, status: 'succeeded' });
  expect(await provider.verifyWebhook({ headers: emu.signedDelivery(payload), body: Buffer.from(payload) }, upstreamId)).toEqual({ terminal: true });
  // A genuine delivery about another prediction says nothing about this one.
  expect(await provider.verifyWebhook({ headers: emu.signedDelivery(payload), body: Buffer.from(payload) }, 'other')).toBeNull();
  expect(emu.requests('GET', /\/v1\/webhooks\/default\/secret$/)).toHaveLength(1);
});

test('forged, tampered and stale webhook deliveries are refused', async () => {
  const payload = JSON.stringify({ id: 'abc', status: 'succeeded' });
  const forged = emu.signedDelivery(payload, `whsec_${randomBytes(24).toString('base64')}`);
  expect(await provider.verifyWebhook({ headers: forged, body: Buffer.from(payload) }, 'abc')).toBeNull();

  const genuine = emu.signedDelivery(payload);
  expect(await provider.verifyWebhook({ headers: genuine, body: Buffer.from(payload.replace('abc', 'xyz')) }, 'xyz')).toBeNull();

  const stale = emu.signedDelivery(payload, undefined, new Date(Date.now() - 3600_000));
  expect(await provider.verifyWebhook({ headers: stale, body: Buffer.from(payload) }, 'abc')).toBeNull();
  expect(await provider.verifyWebhook({ headers: {}, body: Buffer.from(payload) }, 'abc')).toBeNull();
});

test("an image in the output becomes the video's thumbnail", async () => {
  const poster = randomBytes(2048);
  const withPoster = new ReplicateEmulator({ token: TOKEN, video, thumbnail: poster });
  await withPoster.start();
  try {
    const p = new ReplicateProvider({ apiToken: TOKEN, baseUrl: withPoster.url });
    const { upstreamId } = await p.submit(request());
    await p.poll(upstreamId);
    const done = await p.poll(upstreamId);
    if (done.state !== 'succeeded') throw new Error('expected success');
    expect(done.outputs).toHaveLength(1);
    expect((await bytesOf(await p.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
    expect((await bytesOf(await p.fetchOutput(done.outputs[0]!.thumbnail!))).equals(poster)).toBe(true);
  } finally {
    await withPoster.close();
  }
});

test('an image over 1 MB is uploaded through /v1/files and passed by URL', async () => {
  const big = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(1024 * 1024 + 10)]);
  writeFileSync(join(dir, 'big.jpg'), big);
  await provider.submit(request({ imagePath: join(dir, 'big.jpg') }));
  const upload = emu.requests('POST', /^\/v1\/files$/)[0]!;
  expect(upload.headers.authorization).toBe(`Bearer ${TOKEN}`);
  expect(upload.body.includes(big)).toBe(true);
  const input = (emu.requests('POST', /predictions$/)[0]!.json as { input: Record<string, unknown> }).input;
  const [id] = [...emu.files.keys()];
  expect(input.image).toBe(`${emu.url}/v1/files/${id}`);
});

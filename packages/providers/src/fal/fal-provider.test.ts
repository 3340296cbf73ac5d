import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { bytesOf, FalEmulator, rejection, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { FalProvider } from './fal-provider';

const KEY = 'fal_key_id:fal_key_secret';
const video = randomBytes(48 * 1024);
let emu: FalEmulator;
let provider: FalProvider;

beforeEach(async () => {
  emu = new FalEmulator({ key: KEY, video });
  await emu.start();
  provider = new FalProvider({ apiKey: KEY, baseUrl: emu.url, jwksUrl: emu.jwksUrl, requestTimeoutMs: 1000 });
});
afterEach(() => emu.close());

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: 'vid_test',
    upstreamModel: 'fal-ai/kling-video/v2.1/master/text-to-video',
    width: 1920,
    height: 1080,
    metadata: { negative_prompt: 'blur' },
    ...over,
  });

test('submit goes to the endpoint with Key auth; status and result drop the subpath; the video is downloaded', async () => {
  const { upstreamId } = await provider.submit(request());
  expect(upstreamId).toMatch(/^fal-ai\/kling-video\/requests\/[0-9a-f-]{36}$/);
  const submit = emu.requests('POST', /^\/fal-ai\/kling-video\/v2\.1\/master\/text-to-video$/)[0]!;
  expect(submit.headers.authorization).toBe(`Key ${KEY}`);
  expect(submit.query.has('fal_webhook')).toBe(false);
  expect(submit.json).toEqual({ prompt: 'A lighthouse at dusk', duration: '5', aspect_ratio: '16:9', resolution: '1080p', seed: 7, negative_prompt: 'blur' });

  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued', queuePosition: 1 });
  expect(await provider.poll(upstreamId)).toEqual({ state: 'running', progress: 40 });
  const done = await provider.poll(upstreamId);
  expect(emu.requests('GET', /^\/fal-ai\/kling-video\/requests\/[^/]+\/status$/)).toHaveLength(3);
  if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
  expect((await bytesOf(await provider.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
});

test("a model failure surfaces fal's detail, mapped to a content policy violation when it says so", async () => {
  const { upstreamId } = await provider.submit(request({ prompt: 'this should fail' }));
  await provider.poll(upstreamId);
  await provider.poll(upstreamId);
  expect(await provider.poll(upstreamId)).toEqual({
    state: 'failed',
    code: 'content_policy_violation',
    message: 'fal: prompt: The prompt was flagged by the content checker',
  });
});

test('a missing field is a permanent invalid_request naming it', async () => {
  const err = await rejection(provider.submit(request({ prompt: null })));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toBe('fal: prompt: field required');
});

test('429 carries Retry-After; a 5xx is transient and the retry succeeds', async () => {
  emu.server.interrupt({ status: 429, headers: { 'retry-after': '12' }, body: { detail: 'Rate limit exceeded' } });
  const limited = await rejection(provider.submit(request()));
  expect(limited).toBeInstanceOf(RateLimitedError);
  expect((limited as RateLimitedError).retryAfterMs).toBe(12_000);

  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 502, body: { detail: 'Bad gateway' } });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  expect((await provider.poll(upstreamId)).state).toBe('queued');
});

test('a hung status call times out as a transient error', async () => {
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ delayMs: 3000 });
  const err = await rejection(provider.poll(upstreamId));
  expect(err).toBeInstanceOf(TransientProviderError);
  expect(err.message).toContain('timed out');
});

test('cancel stops a queued request, and a later poll reports it cancelled', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request());
  await provider.cancel(upstreamId);
  expect(emu.requests('PUT', /\/cancel$/)).toHaveLength(1);
  expect(await provider.poll(upstreamId)).toMatchObject({ state: 'failed', code: 'cancelled' });
  // Cancelling something already finished is not an error.
  await provider.cancel(upstreamId);
});

test('the webhook URL rides on fal_webhook; a signed delivery verifies, forged ones do not', async () => {
  emu.mode = 'manual';
  const hook = 'http://127.0.0.1:9/v1/upstream-webhooks/fal?task=vid_test';
  const { upstreamId } = await provider.submit(request({ webhookUrl: hook }));
  expect(emu.requests('POST', /text-to-video$/)[0]!.query.get('fal_webhook')).toBe(hook);
  const requestId = upstreamId.split('/').pop()!;

  const body = JSON.stringify({ request_id: requestId, gateway_request_id: requestId, status: 'OK', payload: { video: { url: 'x' } } });
  expect(await provider.verifyWebhook({ headers: emu.signedDelivery(requestId, body), body: Buffer.from(body) }, upstreamId)).toEqual({ terminal: true });

  const attacker = generateKeyPairSync('ed25519').privateKey;
  expect(
    await provider.verifyWebhook({ headers: emu.signedDelivery(requestId, body, { forgeWith: attacker }), body: Buffer.from(body) }, upstreamId),
  ).toBeNull();
  // A genuine signature over another body, an old timestamp, or another task's request id: refused.
  expect(await provider.verifyWebhook({ headers: emu.signedDelivery(requestId, body), body: Buffer.from(body.replace('OK', 'ERROR')) }, upstreamId)).toBeNull();
  const old = emu.signedDelivery(requestId, body, { timestamp: Math.floor(Date.now() / 1000) - 600 });
  expect(await provider.verifyWebhook({ headers: old, body: Buffer.from(body) }, upstreamId)).toBeNull();
  expect(
    await provider.verifyWebhook({ headers: emu.signedDelivery(requestId, body), body: Buffer.from(body) }, 'fal-ai/kling-video/requests/another'),
  ).toBeNull();
  expect(emu.requests('GET', /jwks\.json$/).length).toBeGreaterThanOrEqual(1);
});

test("the endpoint's thumbnail is used when it returns one", async () => {
  const thumb = randomBytes(1500);
  const withThumb = new FalEmulator({ key: KEY, video, thumbnail: thumb, mode: 'manual' });
  await withThumb.start();
  try {
    const p = new FalProvider({ apiKey: KEY, baseUrl: withThumb.url, jwksUrl: withThumb.jwksUrl });
    const { upstreamId } = await p.submit(request());
    await withThumb.complete(upstreamId.split('/').pop()!);
    const done = await p.poll(upstreamId);
    if (done.state !== 'succeeded') throw new Error(`expected success: ${JSON.stringify(done)}`);
    expect((await bytesOf(await p.fetchOutput(done.outputs[0]!.thumbnail!))).equals(thumb)).toBe(true);
  } finally {
    await withThumb.close();
  }
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorServer, KlingEmulator, pollToEnd, pollUntilEnded, rejection, sendJson, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { KlingProvider } from './kling-provider';

const AK = 'ak_test_access_key_0123';
const SK = 'sk_test_secret_key_456789';
const video = randomBytes(16 * 1024);
let emu: KlingEmulator;
let provider: KlingProvider;

beforeEach(async () => {
  emu = new KlingEmulator({ accessKey: AK, secretKey: SK, video });
  await emu.start();
  provider = new KlingProvider({ apiKey: AK, secretKey: SK, baseUrl: emu.url, requestTimeoutMs: 1000 });
});
afterEach(() => emu.close());

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: 'vid_kling',
    upstreamModel: 'kling-v2-master',
    prompt: 'A golden retriever in autumn leaves',
    seed: 3,
    metadata: { negative_prompt: 'text, watermark' },
    ...over,
  });

const finished = (id: string) => pollUntilEnded(provider, id);

const claimsOf = (authorization: unknown): { header: Record<string, unknown>; claims: Record<string, number | string> } => {
  const [h, p] = String(authorization)
    .replace(/^Bearer /, '')
    .split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
};

test('text to video: a signed JWT, external_task_id = task id, submitted → processing → succeed, video downloaded', async () => {
  const before = Math.floor(Date.now() / 1000);
  const { upstreamId } = await provider.submit(request());
  const create = emu.requests('POST', /^\/v1\/videos\/text2video$/)[0]!;
  const { header, claims } = claimsOf(create.headers.authorization);
  expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
  expect(claims.iss).toBe(AK);
  expect(Number(claims.exp) - before).toBeGreaterThanOrEqual(1800);
  expect(Number(claims.exp) - before).toBeLessThanOrEqual(1801);
  expect(before - Number(claims.nbf)).toBeGreaterThanOrEqual(4);
  expect(create.json).toEqual({
    model_name: 'kling-v2-master',
    prompt: 'A golden retriever in autumn leaves',
    negative_prompt: 'text, watermark',
    mode: 'std',
    duration: '5',
    aspect_ratio: '16:9',
    external_task_id: 'vid_kling',
  });
  expect(upstreamId).toMatch(/^text2video\/\d+$/);

  const run = await pollToEnd(provider, upstreamId);
  expect(run.states).toEqual(['queued', 'running', 'succeeded']);
  expect(run.producedSeconds).toBe(5);
  expect(run.video?.equals(video)).toBe(true);
  // The token is reused, not re-signed per call.
  const tokens = new Set(emu.requests('GET', /^\/v1\/videos\//).map((r) => r.headers.authorization));
  expect(tokens).toEqual(new Set([create.headers.authorization]));
});

test('a resubmit with the same task id returns the task Kling already made (idempotent submit)', async () => {
  const first = await provider.submit(request());
  const again = await provider.submit(request());
  expect(again.upstreamId).toBe(first.upstreamId);
  expect(emu.tasks.size).toBe(1);
  // A different task makes a different upstream task.
  const other = await provider.submit(request({ taskId: 'vid_other', idempotencyKey: 'vid_other' }));
  expect(other.upstreamId).not.toBe(first.upstreamId);
});

test('image to video sends the image as bare Base64 and no aspect_ratio', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kling-test-'));
  try {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(30)]);
    writeFileSync(join(dir, 'a.png'), png);
    const { upstreamId } = await provider.submit(request({ imagePath: join(dir, 'a.png') }));
    expect(upstreamId).toMatch(/^image2video\//);
    const body = emu.requests('POST', /^\/v1\/videos\/image2video$/)[0]!.json as Record<string, unknown>;
    expect(body.image).toBe(png.toString('base64'));
    expect(body.aspect_ratio).toBeUndefined();
    expect((await finished(upstreamId)).state).toBe('succeeded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key signed with the wrong secret is a permanent auth error', async () => {
  const forged = new KlingProvider({ apiKey: AK, secretKey: 'not-the-secret', baseUrl: emu.url });
  const err = await rejection(forged.submit(request()));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).reason).toBe('auth');
  expect(err.message).toBe('kling: Authorization is invalid (1002)');
});

test('content security at create and risk control on the task are content policy violations', async () => {
  const refused = await rejection(provider.submit(request({ prompt: 'something sensitive' })));
  expect((refused as PermanentProviderError).code).toBe('content_policy_violation');
  expect(refused.message).toBe('kling: Trigger the content security policy of the platform (1301)');
  const unsafe = await provider.submit(request({ prompt: 'unsafe', idempotencyKey: 'vid_2' }));
  expect(await finished(unsafe.upstreamId)).toEqual({
    state: 'failed',
    code: 'content_policy_violation',
    message: 'kling: Failure to pass the risk control system',
  });
  const broken = await provider.submit(request({ prompt: 'will fail', idempotencyKey: 'vid_3' }));
  expect(await finished(broken.upstreamId)).toEqual({ state: 'failed', code: 'upstream_error', message: 'kling: internal error, please try again' });
});

test('an invalid parameter is a permanent invalid_request naming it', async () => {
  const err = await rejection(provider.submit(request({ durationSeconds: 7 })));
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toBe("kling: duration value '7' is invalid (1201)");
});

test('service codes decide: 1302/1303 are rate limits with their wait, 1102 (no resource pack) is an account error, 5000 transient', async () => {
  emu.server.interrupt({ status: 429, headers: { 'retry-after': '9' }, body: { code: 1302, message: 'API request frequency exceeded', request_id: 'r' } });
  const limited = await rejection(provider.submit(request()));
  expect(limited).toBeInstanceOf(RateLimitedError);
  expect((limited as RateLimitedError).retryAfterMs).toBe(9000);
  emu.server.interrupt({ status: 429, body: { code: 1303, message: 'concurrent task limit exceeded', request_id: 'r' } });
  expect(await rejection(provider.submit(request()))).toBeInstanceOf(RateLimitedError);
  emu.server.interrupt({ status: 429, body: { code: 1102, message: 'Resource pack depleted or expired', request_id: 'r' } });
  const broke = await rejection(provider.submit(request()));
  expect(broke).toBeInstanceOf(PermanentProviderError);
  expect((broke as PermanentProviderError).reason).toBe('auth'); // another target may still take it
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 500, body: { code: 5000, message: 'Server internal error', request_id: 'r' } });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  emu.server.interrupt({ delayMs: 2000 });
  expect((await rejection(provider.poll(upstreamId))).message).toContain('timed out after 1000 ms');
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' });
});

test('callbacks about this task wake it; others and junk are ignored; cancel makes no call', async () => {
  const receiver = new EmulatorServer((_req, res) => sendJson(res, 200, {}));
  await receiver.start();
  try {
    const { upstreamId } = await provider.submit(request({ webhookUrl: `${receiver.url}/cb` }));
    expect((emu.requests('POST', /text2video$/)[0]!.json as Record<string, unknown>).callback_url).toBe(`${receiver.url}/cb`);
    await finished(upstreamId);
    const deliveries = receiver.requests('POST', /^\/cb$/);
    const events = await Promise.all(deliveries.map((d) => provider.verifyWebhook({ headers: d.headers, body: d.body }, upstreamId)));
    expect(events).toEqual([{ terminal: false }, { terminal: true }]);
    expect(await provider.verifyWebhook({ headers: {}, body: deliveries[1]!.body }, 'text2video/1')).toBeNull();
    expect(await provider.verifyWebhook({ headers: {}, body: Buffer.from('[]') }, upstreamId)).toBeNull();
    const calls = emu.server.log.length;
    await provider.cancel();
    expect(emu.server.log).toHaveLength(calls);
  } finally {
    await receiver.close();
  }
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesOf, EmulatorServer, LumaEmulator, pollToEnd, pollUntilEnded, rejection, sendJson, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { LumaProvider } from './luma-provider';

const KEY = 'luma-test-key-0123456789';
const video = randomBytes(16 * 1024);
const poster = randomBytes(1024);
let emu: LumaEmulator;
let provider: LumaProvider;

beforeEach(async () => {
  emu = new LumaEmulator({ apiKey: KEY, video, poster });
  await emu.start();
  provider = new LumaProvider({ apiKey: KEY, baseUrl: emu.url, requestTimeoutMs: 1000 });
});
afterEach(() => emu.close());

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({ taskId: 'vid_luma', upstreamModel: 'ray-2', prompt: 'A teddy bear playing guitar', seed: 1, ...over });

const finished = (id: string) => pollUntilEnded(provider, id);

test('a generation is created with mapped fields, goes queued → dreaming → completed, and its video and poster download', async () => {
  const { upstreamId } = await provider.submit(request());
  const create = emu.requests('POST', /^\/dream-machine\/v1\/generations$/)[0]!;
  expect(create.headers.authorization).toBe(`Bearer ${KEY}`);
  expect(create.json).toEqual({ prompt: 'A teddy bear playing guitar', model: 'ray-2', aspect_ratio: '16:9', resolution: '720p', duration: '5s', loop: false });
  const run = await pollToEnd(provider, upstreamId);
  expect(run.states).toEqual(['queued', 'running', 'succeeded']);
  expect(run.video?.equals(video)).toBe(true);
  if (run.end.state !== 'succeeded') throw new Error('expected success');
  expect((await bytesOf(await provider.fetchOutput(run.end.outputs[0]!.thumbnail!))).equals(poster)).toBe(true);
});

test('every state change is POSTed to the callback URL; each delivery is only a wake-up for that generation', async () => {
  const receiver = new EmulatorServer((_req, res) => sendJson(res, 200, { received: true }));
  await receiver.start();
  try {
    const { upstreamId } = await provider.submit(request({ webhookUrl: `${receiver.url}/hook` }));
    expect((emu.requests('POST', /generations$/)[0]!.json as Record<string, unknown>).callback_url).toBe(`${receiver.url}/hook`);
    await finished(upstreamId);
    const deliveries = receiver.requests('POST', /^\/hook$/);
    expect(deliveries.map((d) => (d.json as { state: string }).state)).toEqual(['dreaming', 'completed']);
    const events = await Promise.all(deliveries.map((d) => provider.verifyWebhook({ headers: d.headers, body: d.body }, upstreamId)));
    expect(events).toEqual([{ terminal: false }, { terminal: true }]);
    // A delivery about another generation, or not JSON, says nothing about this task.
    expect(await provider.verifyWebhook({ headers: {}, body: deliveries[1]!.body }, 'another-generation')).toBeNull();
    expect(await provider.verifyWebhook({ headers: {}, body: Buffer.from('not json') }, upstreamId)).toBeNull();
  } finally {
    await receiver.close();
  }
});

test('a forged "completed" callback only wakes the task: the poll still decides', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request());
  await provider.poll(upstreamId);
  const forged = Buffer.from(JSON.stringify({ id: upstreamId, state: 'completed', assets: { video: 'http://127.0.0.1:1/evil.mp4' } }));
  expect(await provider.verifyWebhook({ headers: {}, body: forged }, upstreamId)).toEqual({ terminal: true });
  expect(await provider.poll(upstreamId)).toEqual({ state: 'running' });
});

test('a moderation failure is a content policy violation; another failure an upstream error with its reason', async () => {
  const unsafe = await provider.submit(request({ prompt: 'something unsafe' }));
  expect(await finished(unsafe.upstreamId)).toEqual({
    state: 'failed',
    code: 'content_policy_violation',
    message: 'luma: 400: prompt not allowed because advanced moderation failed',
  });
  const broken = await provider.submit(request({ prompt: 'will fail' }));
  expect(await finished(broken.upstreamId)).toEqual({ state: 'failed', code: 'upstream_error', message: 'luma: Job failed' });
});

test('a duration Luma does not render is a permanent invalid_request naming the field', async () => {
  const err = await rejection(provider.submit(request({ durationSeconds: 7 })));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toBe("luma: duration: Input should be '5s', '9s'");
});

test('an image task is refused before calling Luma, saying why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'luma-test-'));
  try {
    writeFileSync(join(dir, 'in.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const err = await rejection(provider.submit(request({ imagePath: join(dir, 'in.png') })));
    expect((err as PermanentProviderError).code).toBe('invalid_request');
    expect(err.message).toContain('public image URL');
    expect(emu.server.log).toHaveLength(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auth, 429 with its wait, 5xx and timeouts map to their error classes', async () => {
  const auth = await rejection(new LumaProvider({ apiKey: 'wrong', baseUrl: emu.url }).submit(request()));
  expect((auth as PermanentProviderError).reason).toBe('auth');
  emu.server.interrupt({ status: 429, headers: { 'retry-after': '3' }, body: { detail: 'Rate limit exceeded' } });
  const limited = await rejection(provider.submit(request()));
  expect(limited).toBeInstanceOf(RateLimitedError);
  expect((limited as RateLimitedError).retryAfterMs).toBe(3000);
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 500, body: { detail: 'Internal Server Error' } });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  emu.server.interrupt({ delayMs: 2500 });
  expect((await rejection(provider.poll(upstreamId))).message).toContain('timed out after 1000 ms');
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' }); // the answers that failed moved nothing
});

test('cancel makes no call: Luma has no way to stop a generation', async () => {
  const { upstreamId } = await provider.submit(request());
  const before = emu.server.log.length;
  await provider.cancel();
  expect(emu.server.log).toHaveLength(before);
  expect(emu.generations.get(upstreamId)!.state).toBe('queued');
});

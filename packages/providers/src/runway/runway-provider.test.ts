import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesOf, pollUntilEnded, rejection, RunwayEmulator, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { RunwayProvider } from './runway-provider';

const KEY = `key_${'ab'.repeat(64)}`;
const video = randomBytes(32 * 1024);
let emu: RunwayEmulator;
let provider: RunwayProvider;
let dir: string;

beforeEach(async () => {
  emu = new RunwayEmulator({ apiKey: KEY, video });
  await emu.start();
  provider = new RunwayProvider({ apiKey: KEY, baseUrl: emu.url, requestTimeoutMs: 1000 });
  dir = mkdtempSync(join(tmpdir(), 'runway-test-'));
});
afterEach(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: 'vid_runway',
    upstreamModel: 'gen4.5',
    prompt: 'A timelapse of clouds over a city',
    metadata: { negative_prompt: 'blurry' },
    ...over,
  });

const finished = (p: RunwayProvider, id: string) => pollUntilEnded(p, id);

test('text to video: strict body with the version header, PENDING → RUNNING with progress → SUCCEEDED, output downloaded', async () => {
  const { upstreamId } = await provider.submit(request());
  const create = emu.requests('POST', /^\/v1\/text_to_video$/)[0]!;
  expect(create.headers.authorization).toBe(`Bearer ${KEY}`);
  expect(create.headers['x-runway-version']).toBe('2024-11-06');
  // Reelay's extended parameters are not sent: Runway refuses unknown fields.
  expect(create.json).toEqual({ model: 'gen4.5', promptText: 'A timelapse of clouds over a city', ratio: '1280:720', duration: 5, seed: 7 });

  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' });
  expect(await provider.poll(upstreamId)).toEqual({ state: 'running', progress: 50 });
  const done = await provider.poll(upstreamId);
  if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
  expect(done.outputs).toHaveLength(1);
  const fetched = emu.server.log.length;
  expect((await bytesOf(await provider.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
  // The pre-signed output link gets no API key.
  expect(emu.server.log.slice(fetched)[0]!.headers.authorization).toBeUndefined();
});

test('an input image goes to /v1/image_to_video as a data URI', async () => {
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(64)]);
  writeFileSync(join(dir, 'first.png'), png);
  await provider.submit(request({ imagePath: join(dir, 'first.png'), width: 720, height: 1280 }));
  const body = emu.requests('POST', /^\/v1\/image_to_video$/)[0]!.json as Record<string, unknown>;
  expect(body.promptImage).toBe(`data:image/png;base64,${png.toString('base64')}`);
  expect(body.ratio).toBe('720:1280');
  expect(emu.requests('POST', /text_to_video/)).toHaveLength(0);
});

test("a size Runway does not render is a permanent invalid_request naming Runway's field and choices", async () => {
  const err = await rejection(provider.submit(request({ width: 1000, height: 1000 })));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toContain("runway: Validation of body failed; ratio: Invalid enum value. Expected '1280:720'");
});

test('over the concurrency limit a task is THROTTLED (reported queued) and runs once a slot frees', async () => {
  const narrow = new RunwayEmulator({ apiKey: KEY, video, concurrency: 1 });
  await narrow.start();
  try {
    const p = new RunwayProvider({ apiKey: KEY, baseUrl: narrow.url });
    narrow.mode = 'manual';
    const first = (await p.submit(request())).upstreamId;
    await p.poll(first);
    expect(await p.poll(first)).toMatchObject({ state: 'running' });
    const second = (await p.submit(request())).upstreamId;
    expect(narrow.tasks.get(second)!.status).toBe('THROTTLED');
    expect(await p.poll(second)).toEqual({ state: 'queued' });
    expect(await p.poll(second)).toEqual({ state: 'queued' });
    narrow.finish(first);
    expect(await p.poll(second)).toEqual({ state: 'queued' }); // THROTTLED → PENDING
    expect(await p.poll(second)).toMatchObject({ state: 'running' });
  } finally {
    await narrow.close();
  }
});

test('a moderation failure (SAFETY.*) is a content policy violation; another failure is an upstream error', async () => {
  const unsafe = await provider.submit(request({ prompt: 'something unsafe' }));
  expect(await finished(provider, unsafe.upstreamId)).toEqual({
    state: 'failed',
    code: 'content_policy_violation',
    message: 'runway: The prompt did not pass content moderation. (SAFETY.INPUT.TEXT)',
  });
  const broken = await provider.submit(request({ prompt: 'this will fail' }));
  expect(await finished(provider, broken.upstreamId)).toEqual({
    state: 'failed',
    code: 'upstream_error',
    message: 'runway: An unexpected error occurred. (INTERNAL)',
  });
});

test('a wrong key is a permanent auth error', async () => {
  const bad = new RunwayProvider({ apiKey: 'key_wrong', baseUrl: emu.url });
  const err = await rejection(bad.submit(request()));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).reason).toBe('auth');
  expect(err.message).toBe('runway: Invalid API key');
});

test('the daily limit (429) is a rate-limit error; a Retry-After is honoured', async () => {
  const capped = new RunwayEmulator({ apiKey: KEY, video, dailyLimit: 0 });
  await capped.start();
  try {
    const err = await rejection(new RunwayProvider({ apiKey: KEY, baseUrl: capped.url }).submit(request()));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err.message).toContain('daily generation limit');
  } finally {
    await capped.close();
  }
  emu.server.interrupt({ status: 429, headers: { 'retry-after': '12' }, body: { error: 'Too many requests' } });
  const err = await rejection(provider.submit(request()));
  expect((err as RateLimitedError).retryAfterMs).toBe(12_000);
});

test('a 5xx is transient and the retried poll goes on; a hung answer is a transient timeout', async () => {
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 502, body: { error: 'Bad gateway' } });
  const err = await rejection(provider.poll(upstreamId));
  expect(err).toBeInstanceOf(TransientProviderError);
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' });
  emu.server.interrupt({ delayMs: 3000 });
  const slow = await rejection(provider.poll(upstreamId));
  expect(slow).toBeInstanceOf(TransientProviderError);
  expect(slow.message).toContain('timed out after 1000 ms');
});

test('cancel stops a running task (CANCELLED → failed "cancelled"); cancelling a deleted task is not an error', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request());
  await provider.poll(upstreamId);
  await provider.cancel(upstreamId);
  expect(emu.requests('DELETE', /^\/v1\/tasks\//)[0]!.headers['x-runway-version']).toBe('2024-11-06');
  expect(await provider.poll(upstreamId)).toEqual({ state: 'failed', code: 'cancelled', message: 'runway: the task was cancelled' });
  await provider.cancel(upstreamId); // a finished task: DELETE removes the record
  expect(emu.tasks.has(upstreamId)).toBe(false);
  await expect(provider.cancel(upstreamId)).resolves.toBeUndefined(); // 404: nothing left to stop
});

test('an expired output link is a permanent download error', async () => {
  const { upstreamId } = await provider.submit(request());
  const done = await finished(provider, upstreamId);
  if (done.state !== 'succeeded') throw new Error('expected success');
  emu.files.expire(upstreamId);
  const err = await rejection(provider.fetchOutput(done.outputs[0]!.video));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect(err.message).toContain('HTTP 403');
});

test('more than one video per task is refused before calling Runway', async () => {
  const err = await rejection(provider.submit(request({ n: 2 })));
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(emu.server.log).toHaveLength(0);
});

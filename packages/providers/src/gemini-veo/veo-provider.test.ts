import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesOf, rejection, submitRequest, VeoEmulator } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { VeoProvider } from './veo-provider';

const KEY = 'AIzaTestKey0123456789';
const video = randomBytes(40 * 1024);
let emu: VeoEmulator;
let provider: VeoProvider;

beforeEach(async () => {
  emu = new VeoEmulator({ apiKey: KEY, video });
  await emu.start();
  provider = new VeoProvider({ apiKey: KEY, baseUrl: emu.url, requestTimeoutMs: 1000 });
});
afterEach(() => emu.close());

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: 'vid_test',
    upstreamModel: 'veo-3.1-generate-preview',
    durationSeconds: 8,
    width: 1920,
    height: 1080,
    seed: 99,
    metadata: { negative_prompt: 'text overlays' },
    ...over,
  });

test('size maps to aspect ratio and resolution; the operation is polled to done and the video downloaded with the key', async () => {
  const { upstreamId } = await provider.submit(request());
  expect(upstreamId).toMatch(/^models\/veo-3\.1-generate-preview\/operations\/[0-9a-f]+$/);
  const create = emu.requests('POST', /:predictLongRunning$/)[0]!;
  expect(create.headers['x-goog-api-key']).toBe(KEY);
  expect(create.json).toEqual({
    instances: [{ prompt: 'A lighthouse at dusk' }],
    parameters: { aspectRatio: '16:9', durationSeconds: 8, resolution: '1080p', seed: 99, negativePrompt: 'text overlays' },
  });

  expect(await provider.poll(upstreamId)).toEqual({ state: 'running' });
  const done = await provider.poll(upstreamId);
  if (done.state !== 'succeeded') throw new Error(`expected success: ${JSON.stringify(done)}`);
  expect((await bytesOf(await provider.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
  // The download link needs the key; its redirect to the storage host must not carry it.
  expect(emu.requests('GET', /:download$/)[0]!.headers['x-goog-api-key']).toBe(KEY);
  const blob = emu.storage.requests('GET', /^\/blob\//)[0]!;
  expect(blob.headers['x-goog-api-key']).toBeUndefined();
});

test('an input image is sent inline, and portrait 720p maps to 9:16', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'veo-test-'));
  try {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(20)]);
    writeFileSync(join(dir, 'in.jpg'), jpeg);
    await provider.submit(request({ imagePath: join(dir, 'in.jpg'), width: 720, height: 1280, durationSeconds: 6 }));
    const body = emu.requests('POST', /:predictLongRunning$/)[0]!.json as { instances: Array<Record<string, unknown>>; parameters: Record<string, unknown> };
    expect(body.instances[0]!.image).toEqual({ bytesBase64Encoded: jpeg.toString('base64'), mimeType: 'image/jpeg' });
    expect(body.parameters).toMatchObject({ aspectRatio: '9:16', resolution: '720p', durationSeconds: 6 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what Veo cannot render is refused before any call, naming what it can', async () => {
  const cases: Array<[Partial<SubmitRequest>, string]> = [
    [{ width: 1024, height: 1024 }, 'cannot render size 1024x1024: it renders 1280x720, 720x1280, 1920x1080, 1080x1920, 3840x2160, 2160x3840'],
    [{ durationSeconds: 5 }, 'cannot render 5 s: duration must be 4, 6 or 8 seconds'],
    [{ durationSeconds: 4 }, 'cannot render 1080p at 4 s: 1080p needs an 8 second clip'],
    [{ fps: 30 }, 'cannot render 30 fps: Veo renders 24 fps only'],
    [{ n: 2 }, 'cannot render 2 videos per task: at most 1'],
    [{ upstreamModel: 'veo-2.0-generate-001', width: 1920, height: 1080 }, 'veo-2.0-generate-001 cannot render size 1920x1080: it renders 1280x720, 720x1280'],
    [{ upstreamModel: 'veo-3.0-generate-001', width: 3840, height: 2160 }, 'cannot render size 3840x2160'],
  ];
  for (const [over, text] of cases) {
    const err = await rejection(provider.submit(request(over)));
    expect(err).toBeInstanceOf(PermanentProviderError);
    expect((err as PermanentProviderError).code).toBe('invalid_request');
    expect(err.message).toContain(text);
  }
  expect(emu.requests('POST', /./)).toHaveLength(0);
});

test('Veo 2 takes 5-8 s and gets no resolution parameter', async () => {
  await provider.submit(request({ upstreamModel: 'veo-2.0-generate-001', width: 1280, height: 720, durationSeconds: 5 }));
  const body = emu.requests('POST', /:predictLongRunning$/)[0]!.json as { parameters: Record<string, unknown> };
  expect(body.parameters).toEqual({ aspectRatio: '16:9', durationSeconds: 5, seed: 99, negativePrompt: 'text overlays' });
});

test("a failed operation surfaces Google's message; a safety block is a content policy violation", async () => {
  const failing = await provider.submit(request({ prompt: 'this will fail' }));
  await provider.poll(failing.upstreamId);
  expect(await provider.poll(failing.upstreamId)).toEqual({
    state: 'failed',
    code: 'upstream_error',
    message: 'veo: Video generation failed: internal error in the model backend',
  });

  emu.mode = 'manual';
  const blocked = await provider.submit(request());
  emu.filter(blocked.upstreamId, ['This prompt contains words that violate the usage guidelines.']);
  expect(await provider.poll(blocked.upstreamId)).toEqual({
    state: 'failed',
    code: 'content_policy_violation',
    message: 'veo: This prompt contains words that violate the usage guidelines.',
  });
});

test('an invalid key is a permanent auth error', async () => {
  const bad = new VeoProvider({ apiKey: 'AIzaWrong', baseUrl: emu.url });
  const err = await rejection(bad.submit(request()));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).reason).toBe('auth');
  expect(err.message).toContain('API key not valid');
});

test('429 RESOURCE_EXHAUSTED is rate limited, with the delay from Retry-After or from RetryInfo', async () => {
  emu.server.interrupt({
    status: 429,
    headers: { 'retry-after': '20' },
    body: { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } },
  });
  const withHeader = await rejection(provider.submit(request()));
  expect(withHeader).toBeInstanceOf(RateLimitedError);
  expect((withHeader as RateLimitedError).retryAfterMs).toBe(20_000);

  emu.server.interrupt({
    status: 429,
    body: {
      error: {
        code: 429,
        message: 'Quota exceeded',
        status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '31s' }],
      },
    },
  });
  const withDetails = await rejection(provider.submit(request()));
  expect((withDetails as RateLimitedError).retryAfterMs).toBe(31_000);
  expect(withDetails.message).toContain('Quota exceeded');
});

test('a 503 is transient and a hung poll times out; both recover on retry', async () => {
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 503, body: { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } } });
  const overloaded = await rejection(provider.poll(upstreamId));
  expect(overloaded).toBeInstanceOf(TransientProviderError);
  expect(overloaded.message).toContain('overloaded');
  emu.server.interrupt({ delayMs: 3000 });
  const hung = await rejection(provider.poll(upstreamId));
  expect(hung).toBeInstanceOf(TransientProviderError);
  expect(hung.message).toContain('timed out');
  expect(await provider.poll(upstreamId)).toEqual({ state: 'running' });
  expect((await provider.poll(upstreamId)).state).toBe('succeeded');
});

test('cancel ends the operation as cancelled', async () => {
  emu.mode = 'manual';
  const { upstreamId } = await provider.submit(request());
  await provider.cancel(upstreamId);
  expect(emu.requests('POST', /:cancel$/)).toHaveLength(1);
  expect(await provider.poll(upstreamId)).toEqual({ state: 'failed', code: 'cancelled', message: 'veo: the operation was cancelled' });
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorServer, pollToEnd, pollUntilEnded, rejection, SeedanceEmulator, sendJson, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { SeedanceProvider } from './seedance-provider';

const KEY = 'ark-test-key-0123456789';
const video = randomBytes(16 * 1024);
let emu: SeedanceEmulator;
let provider: SeedanceProvider;

beforeEach(async () => {
  emu = new SeedanceEmulator({ apiKey: KEY, video });
  await emu.start();
  provider = new SeedanceProvider({ apiKey: KEY, baseUrl: emu.url, requestTimeoutMs: 1000 });
});
afterEach(() => emu.close());

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({ taskId: 'vid_seedance', upstreamModel: 'seedance-1-0-pro-250528', prompt: 'Waves on a quiet beach', seed: 99, ...over });

const finished = (id: string) => pollUntilEnded(provider, id);

test('a task is created with content[] and mapped fields, runs, and its video downloads with the produced duration', async () => {
  const { upstreamId } = await provider.submit(request());
  const create = emu.requests('POST', /\/api\/v3\/contents\/generations\/tasks$/)[0]!;
  expect(create.headers.authorization).toBe(`Bearer ${KEY}`);
  expect(create.json).toEqual({
    model: 'seedance-1-0-pro-250528',
    content: [{ type: 'text', text: 'Waves on a quiet beach' }],
    resolution: '720p',
    ratio: '16:9',
    duration: 5,
    seed: 99,
  });
  const run = await pollToEnd(provider, upstreamId);
  expect(run.states).toEqual(['queued', 'running', 'succeeded']);
  expect(run.producedSeconds).toBe(5);
  expect(run.video?.equals(video)).toBe(true);
});

test('an input image becomes a first_frame image_url item', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seedance-test-'));
  try {
    const jpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(40)]);
    writeFileSync(join(dir, 'a.jpg'), jpg);
    await provider.submit(request({ imagePath: join(dir, 'a.jpg') }));
    const content = (emu.requests('POST', /tasks$/)[0]!.json as { content: unknown[] }).content;
    expect(content[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${jpg.toString('base64')}` }, role: 'first_frame' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('moderation of the input (create) and of the output (task) is a content policy violation', async () => {
  const refused = await rejection(provider.submit(request({ prompt: 'something sensitive' })));
  expect(refused).toBeInstanceOf(PermanentProviderError);
  expect((refused as PermanentProviderError).code).toBe('content_policy_violation');
  expect(refused.message).toContain('(InputTextSensitiveContentDetected)');

  const unsafe = await provider.submit(request({ prompt: 'unsafe output' }));
  expect(await finished(unsafe.upstreamId)).toEqual({
    state: 'failed',
    code: 'content_policy_violation',
    message: 'seedance: The request failed because the output video may contain sensitive information. (OutputVideoSensitiveContentDetected)',
  });
  const broken = await provider.submit(request({ prompt: 'will fail' }));
  expect(await finished(broken.upstreamId)).toMatchObject({ state: 'failed', code: 'upstream_error' });
});

test("an invalid parameter is a permanent invalid_request carrying Ark's message", async () => {
  const err = await rejection(provider.submit(request({ durationSeconds: 30 })));
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toBe('seedance: The parameter duration specified in the request is not valid: 30 (InvalidParameter)');
});

test('auth, 429 with its wait, 5xx and timeouts map to their error classes', async () => {
  const auth = await rejection(new SeedanceProvider({ apiKey: 'wrong', baseUrl: emu.url }).submit(request()));
  expect((auth as PermanentProviderError).reason).toBe('auth');
  emu.server.interrupt({
    status: 429,
    headers: { 'retry-after': '20' },
    body: { error: { code: 'RateLimitExceeded.EndpointRPMExceeded', message: 'Too many requests' } },
  });
  const limited = await rejection(provider.submit(request()));
  expect(limited).toBeInstanceOf(RateLimitedError);
  expect((limited as RateLimitedError).retryAfterMs).toBe(20_000);
  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 500, body: { error: { code: 'InternalServiceError', message: 'internal error' } } });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  emu.server.interrupt({ hang: true });
  expect((await rejection(provider.poll(upstreamId))).message).toContain('timed out after 1000 ms');
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' });
});

test('cancel stops a queued task; a running task cannot be stopped and that is not an error', async () => {
  const queued = await provider.submit(request());
  await provider.cancel(queued.upstreamId);
  expect(await provider.poll(queued.upstreamId)).toEqual({ state: 'failed', code: 'cancelled', message: 'seedance: the task was cancelled' });

  emu.mode = 'manual';
  const running = await provider.submit(request());
  await provider.poll(running.upstreamId);
  await provider.poll(running.upstreamId);
  await expect(provider.cancel(running.upstreamId)).resolves.toBeUndefined();
  expect(emu.tasks.get(running.upstreamId)!.status).toBe('running');
});

test('an expired task fails; callbacks about this task wake it, others are ignored', async () => {
  const receiver = new EmulatorServer((_req, res) => sendJson(res, 200, {}));
  await receiver.start();
  try {
    const { upstreamId } = await provider.submit(request({ webhookUrl: `${receiver.url}/cb` }));
    expect((emu.requests('POST', /tasks$/)[0]!.json as Record<string, unknown>).callback_url).toBe(`${receiver.url}/cb`);
    await emu.setStatus(upstreamId, 'expired');
    const delivery = receiver.requests('POST', /^\/cb$/)[0]!;
    expect(await provider.verifyWebhook({ headers: delivery.headers, body: delivery.body }, upstreamId)).toEqual({ terminal: true });
    expect(await provider.verifyWebhook({ headers: delivery.headers, body: delivery.body }, 'cgt-other')).toBeNull();
    expect(await provider.poll(upstreamId)).toEqual({ state: 'failed', code: 'upstream_error', message: 'seedance: the task expired before it ran' });
  } finally {
    await receiver.close();
  }
});

test('an expired result link is a permanent download error', async () => {
  const { upstreamId } = await provider.submit(request());
  const done = await finished(upstreamId);
  if (done.state !== 'succeeded') throw new Error('expected success');
  emu.files.expire(upstreamId);
  expect(await rejection(provider.fetchOutput(done.outputs[0]!.video))).toBeInstanceOf(PermanentProviderError);
});

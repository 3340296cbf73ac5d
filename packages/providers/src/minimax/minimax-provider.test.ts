import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesOf, EmulatorServer, MiniMaxEmulator, pollUntilEnded, rejection, sendJson, submitRequest } from '@reelay/testing';
import { PermanentProviderError, RateLimitedError, TransientProviderError } from '../errors';
import type { SubmitRequest } from '../provider';
import { MiniMaxProvider } from './minimax-provider';

const KEY = 'minimax-test-key-0123456789';
const video = randomBytes(16 * 1024);
let emu: MiniMaxEmulator;
let provider: MiniMaxProvider;

beforeEach(async () => {
  emu = new MiniMaxEmulator({ apiKey: KEY, video });
  await emu.start();
  provider = new MiniMaxProvider({ apiKey: KEY, baseUrl: emu.url, requestTimeoutMs: 1000 });
});
afterEach(() => emu.close());

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: 'vid_minimax',
    upstreamModel: 'MiniMax-Hailuo-02',
    prompt: 'A woman picks up a book',
    durationSeconds: 6,
    width: 1366,
    height: 768,
    seed: 5,
    ...over,
  });

const finished = (id: string) => pollUntilEnded(provider, id);

test('create → Preparing/Queueing (queued) → Processing → Success, then the file is retrieved and downloaded', async () => {
  const { upstreamId } = await provider.submit(request());
  expect(emu.requests('POST', /^\/v1\/video_generation$/)[0]!.json).toEqual({
    model: 'MiniMax-Hailuo-02',
    prompt: 'A woman picks up a book',
    duration: 6,
    resolution: '768P',
  });
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' }); // Preparing
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' }); // Queueing
  expect(await provider.poll(upstreamId)).toEqual({ state: 'running' });
  const done = await provider.poll(upstreamId);
  if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
  const retrieve = emu.requests('GET', /^\/v1\/files\/retrieve$/)[0]!;
  expect(retrieve.query.get('file_id')).toBe(emu.tasks.get(upstreamId)!.fileId);
  expect(retrieve.headers.authorization).toBe(`Bearer ${KEY}`);
  expect((await bytesOf(await provider.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
});

test('an input image is sent as a data URL in first_frame_image', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'minimax-test-'));
  try {
    const jpg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), randomBytes(20)]);
    writeFileSync(join(dir, 'f.jpg'), jpg);
    await provider.submit(request({ imagePath: join(dir, 'f.jpg') }));
    expect((emu.requests('POST', /video_generation$/)[0]!.json as Record<string, unknown>).first_frame_image).toBe(
      `data:image/jpeg;base64,${jpg.toString('base64')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('base_resp codes (answered with HTTP 200) map to their error classes', async () => {
  const auth = await rejection(new MiniMaxProvider({ apiKey: 'wrong', baseUrl: emu.url }).submit(request()));
  expect((auth as PermanentProviderError).reason).toBe('auth');
  expect(auth.message).toContain('(1004)');

  const policy = await rejection(provider.submit(request({ prompt: 'something sensitive' })));
  expect((policy as PermanentProviderError).code).toBe('content_policy_violation');
  expect(policy.message).toBe('minimax: input new_sensitive (1026)');

  const params = await rejection(provider.submit(request({ durationSeconds: 8 })));
  expect((params as PermanentProviderError).code).toBe('invalid_request');
  expect(params.message).toBe('minimax: invalid params, duration 8 is not supported (2013)');

  emu.server.interrupt({ status: 200, body: { base_resp: { status_code: 1002, status_msg: 'rate limit exceeded' } } });
  const limited = await rejection(provider.submit(request()));
  expect(limited).toBeInstanceOf(RateLimitedError);
  emu.server.interrupt({ status: 429, headers: { 'retry-after': '4' }, body: { base_resp: { status_code: 1002, status_msg: 'rate limit' } } });
  expect(((await rejection(provider.submit(request()))) as RateLimitedError).retryAfterMs).toBe(4000);

  emu.server.interrupt({ status: 200, body: { base_resp: { status_code: 1008, status_msg: 'insufficient balance' } } });
  const balance = await rejection(provider.submit(request()));
  expect((balance as PermanentProviderError).reason).toBe('auth'); // this account cannot pay: another target may

  const { upstreamId } = await provider.submit(request());
  emu.server.interrupt({ status: 200, body: { base_resp: { status_code: 1000, status_msg: 'unknown error' } } });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  emu.server.interrupt({ status: 502, body: 'bad gateway' });
  expect(await rejection(provider.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  emu.server.interrupt({ delayMs: 2000 });
  expect((await rejection(provider.poll(upstreamId))).message).toContain('timed out after 1000 ms');
  expect(await provider.poll(upstreamId)).toEqual({ state: 'queued' });
});

test('a failed task carries its code: sensitive output is a content policy violation', async () => {
  const unsafe = await provider.submit(request({ prompt: 'unsafe output' }));
  expect(await finished(unsafe.upstreamId)).toEqual({ state: 'failed', code: 'content_policy_violation', message: 'minimax: output video sensitive (1027)' });
  const broken = await provider.submit(request({ prompt: 'will fail' }));
  expect(await finished(broken.upstreamId)).toEqual({ state: 'failed', code: 'upstream_error', message: 'minimax: unknown error (1000)' });
});

test("the callback URL's challenge is echoed, and later deliveries only wake this task", async () => {
  const receiver = new EmulatorServer((req, res) => {
    const body = { headers: req.headers, body: req.body };
    sendJson(res, 200, provider.webhookChallenge(body) ?? { received: true });
  });
  await receiver.start();
  try {
    const { upstreamId } = await provider.submit(request({ webhookUrl: `${receiver.url}/cb` }));
    expect(emu.challenges).toEqual([{ url: `${receiver.url}/cb`, echoed: true }]);
    await finished(upstreamId);
    const updates = receiver.requests('POST', /^\/cb$/).slice(1); // after the challenge
    const events = await Promise.all(updates.map((d) => provider.verifyWebhook({ headers: d.headers, body: d.body }, upstreamId)));
    expect(events).toEqual([{ terminal: false }, { terminal: false }, { terminal: true }]);
    expect(await provider.verifyWebhook({ headers: {}, body: updates[2]!.body }, '1')).toBeNull();
    // A status update is not a challenge, and a challenge is not about any task.
    expect(provider.webhookChallenge({ headers: {}, body: updates[2]!.body })).toBeUndefined();
    expect(await provider.verifyWebhook({ headers: {}, body: Buffer.from('{"challenge":"x"}') }, upstreamId)).toBeNull();
  } finally {
    await receiver.close();
  }
});

test('cancel makes no call: the v1 API cannot stop a task', async () => {
  await provider.submit(request());
  const calls = emu.server.log.length;
  await provider.cancel();
  expect(emu.server.log).toHaveLength(calls);
});

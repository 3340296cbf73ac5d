import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { emulatedContent, FalEmulator, freePort, http, isJpeg, OpenAIVideosEmulator, ReplicateEmulator, testMp4, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Upstream webhooks end to end: the worker registers Reelay's callback URL on submit, the
 * emulated upstream calls it when the task ends, and the task finishes on that wake-up although
 * its next scheduled poll is two minutes away. Forged deliveries change nothing.
 */
const REPLICATE_TOKEN = 'r8_e2e_token_0123456789';
const FAL_KEY = 'fal_e2e:key_0123456789';
const OPENAI_KEY = 'sk-e2e-0123456789';
const OPENAI_WEBHOOK_SECRET = `whsec_${Buffer.from('openai project webhook secret, e2e').toString('base64')}`;
const POLL_DELAY_MS = 120_000;
const OPENAI_QUEUED_MS = 300;

let dir: string;
let mp4: Buffer;
let replicate: ReplicateEmulator;
let fal: FalEmulator;
let openai: OpenAIVideosEmulator;
let stack: Stack;

const model = (id: string, target: Record<string, unknown>) => ({
  id,
  targets: [target],
  duration: { min: 1, max: 10 },
  size: { values: ['128x128'] },
  fps: { values: [10] },
  maxN: 1,
  defaults: { duration: 1, width: 128, height: 128, fps: 10 },
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-upstream-hooks-'));
  mp4 = testMp4({ width: 128, height: 128, fps: 10 });
  replicate = new ReplicateEmulator({ token: REPLICATE_TOKEN, video: mp4, mode: 'manual' });
  fal = new FalEmulator({ key: FAL_KEY, video: mp4, mode: 'manual' });
  await replicate.start();
  await fal.start();
  // Done as soon as made: OpenAI only sends video.completed once the video is ready.
  // Queued when the create answers (a finished one would complete at submit, with no wait to
  // wake), done a moment later.
  openai = new OpenAIVideosEmulator({ apiKey: OPENAI_KEY, behaviour: { taskMs: 0, queuedMs: OPENAI_QUEUED_MS } });
  await openai.start();

  const catalog = join(dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'replicate-video',
      models: [
        model('replicate-video', { provider: 'replicate', upstreamModel: 'acme/video', baseUrl: replicate.url, credentials: 'E2E_REPLICATE_TOKEN' }),
        model('fal-video', {
          provider: 'fal',
          upstreamModel: 'fal-ai/acme-video/text-to-video',
          baseUrl: fal.url,
          credentials: 'E2E_FAL_KEY',
          options: { jwksUrl: fal.jwksUrl },
        }),
        model('openai-video', {
          provider: 'openai-compatible',
          upstreamModel: 'sora-2',
          baseUrl: openai.url,
          credentials: 'E2E_OPENAI_KEY',
          options: { webhookSecretEnv: 'E2E_OPENAI_WEBHOOK_SECRET' },
        }),
      ],
    }),
  );
  const port = await freePort();
  stack = await startStack({
    PORT: String(port),
    REELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    REELAY_MODELS_FILE: catalog,
    E2E_REPLICATE_TOKEN: REPLICATE_TOKEN,
    E2E_FAL_KEY: FAL_KEY,
    E2E_OPENAI_KEY: OPENAI_KEY,
    E2E_OPENAI_WEBHOOK_SECRET: OPENAI_WEBHOOK_SECRET,
    POLL_FIRST_MS: String(POLL_DELAY_MS),
    POLL_MIN_MS: String(POLL_DELAY_MS),
    POLL_MAX_MS: String(POLL_DELAY_MS),
    REELAY_UPSTREAM_WEBHOOK_MAX_BYTES: String(64 * 1024),
  });
});

afterAll(async () => {
  await stack?.close();
  await replicate?.close();
  await fal?.close();
  await openai?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Creates a task and waits until it is submitted upstream and its job sleeps until the next poll. */
async function submitted(modelId: string) {
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model: modelId, prompt: 'A paper boat on a pond' } });
  expect(created.status).toBe(200);
  const id = created.body.id as string;
  const queue = stack.api.deps.tasksQueue;
  const task = await until('the upstream submit', async () => {
    const t = await stack.db.task.findUnique({ where: { id } });
    const job = await queue.getJob(id);
    return t?.status === 'processing' && t.upstreamId && job && (await job.isDelayed()) ? t : null;
  });
  return { id, upstreamId: task.upstreamId! };
}

async function expectUntouched(id: string, upstreamGets: () => number) {
  const task = await stack.db.task.findUnique({ where: { id } });
  expect(task!.status).toBe('processing');
  expect(task!.pollCount).toBe(0);
  expect(await (await stack.api.deps.tasksQueue.getJob(id))!.isDelayed()).toBe(true);
  expect(upstreamGets()).toBe(0);
}

test('Replicate: a signed completion webhook finishes the task long before its next scheduled poll; a forged one changes nothing', async () => {
  const { id, upstreamId } = await submitted('replicate-video');
  const create = replicate.requests('POST', /\/v1\/models\/acme\/video\/predictions$/).at(-1)!.json as Record<string, unknown>;
  expect(create.webhook).toBe(`${stack.config.REELAY_PUBLIC_URL}/v1/upstream-webhooks/replicate/${id}`);
  expect(create.webhook_events_filter).toEqual(['completed']);
  const predictionGets = () => replicate.requests('GET', new RegExp(`/v1/predictions/${upstreamId}$`)).length;

  // Forged: signed with another secret. 401 in the API's error shape, and the task sleeps on.
  const payload = JSON.stringify({ id: upstreamId, status: 'succeeded', output: 'http://127.0.0.1:1/evil.mp4' });
  const forged = await http(stack, 'POST', `/v1/upstream-webhooks/replicate/${id}`, {
    body: payload,
    headers: replicate.signedDelivery(payload, 'whsec_' + Buffer.from('not the real secret at all').toString('base64')),
  });
  expect(forged.status).toBe(401);
  expect(forged.body).toEqual({
    error: { message: 'Invalid replicate webhook signature', code: 'invalid_signature', type: 'authentication_error', param: null },
  });
  await expectUntouched(id, predictionGets);

  // A genuine signature for a task that does not exist, or through the wrong provider's route: 404.
  expect(
    (await http(stack, 'POST', '/v1/upstream-webhooks/replicate/vid_doesnotexist', { body: payload, headers: replicate.signedDelivery(payload) })).status,
  ).toBe(404);
  expect((await http(stack, 'POST', `/v1/upstream-webhooks/fal/${id}`, { body: payload, headers: replicate.signedDelivery(payload) })).status).toBe(404);
  // Oversized bodies are refused before anything is parsed.
  const huge = await http(stack, 'POST', `/v1/upstream-webhooks/replicate/${id}`, {
    body: 'x'.repeat(100 * 1024),
    headers: { 'content-type': 'application/json' },
  });
  expect(huge.status).toBe(413);
  expect(huge.body.error.code).toBe('payload_too_large');
  await expectUntouched(id, predictionGets);

  // The upstream finishes and calls back; the worker polls once and stores the result.
  await replicate.complete(upstreamId);
  expect(replicate.deliveries.at(-1)!.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  expect(predictionGets()).toBe(1);
  expect((await stack.db.task.findUnique({ where: { id } }))!.pollCount).toBe(1);

  const content = await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key });
  expect(content.bytes.equals(mp4)).toBe(true);
  expect(isJpeg((await http(stack, 'GET', `/v1/videos/${id}/content?variant=thumbnail`, { key: stack.key })).bytes)).toBe(true);
});

test('fal: the fal_webhook callback, signed with Ed25519, finishes the task after one status check; a forged one is refused', async () => {
  const { id, upstreamId } = await submitted('fal-video');
  const requestId = upstreamId.split('/').pop()!;
  const submit = fal.requests('POST', /\/fal-ai\/acme-video\/text-to-video$/).at(-1)!;
  expect(submit.query.get('fal_webhook')).toBe(`${stack.config.REELAY_PUBLIC_URL}/v1/upstream-webhooks/fal/${id}`);
  const statusGets = () => fal.requests('GET', new RegExp(`/requests/${requestId}/status$`)).length;

  const { generateKeyPairSync } = await import('node:crypto');
  const body = JSON.stringify({ request_id: requestId, gateway_request_id: requestId, status: 'OK', payload: {} });
  const forged = await http(stack, 'POST', `/v1/upstream-webhooks/fal/${id}`, {
    body,
    headers: fal.signedDelivery(requestId, body, { forgeWith: generateKeyPairSync('ed25519').privateKey }),
  });
  expect(forged.status).toBe(401);
  expect(forged.body.error.code).toBe('invalid_signature');
  await expectUntouched(id, statusGets);

  await fal.complete(requestId);
  expect(fal.deliveries.at(-1)!.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  expect(statusGets()).toBe(1);
  expect((await stack.db.task.findUnique({ where: { id } }))!.pollCount).toBe(1);
  expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).bytes.equals(mp4)).toBe(true);
});

test('OpenAI-style: a project webhook (one URL, signed video.completed event) wakes the task waiting on that video', async () => {
  const { id, upstreamId } = await submitted('openai-video');
  const retrieves = () => openai.calls('retrieve').filter((r) => r.path.endsWith(`/${upstreamId}`)).length;
  const event = (videoId: string) =>
    JSON.stringify({ id: `evt_${videoId}`, object: 'event', type: 'video.completed', created_at: Math.floor(Date.now() / 1000), data: { id: videoId } });
  const sign = (body: string, secret = OPENAI_WEBHOOK_SECRET) => {
    const msgId = `msg_${Math.random().toString(36).slice(2)}`;
    const now = new Date();
    return {
      'content-type': 'application/json',
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(msgId, now, body),
    };
  };

  const forgedBody = event(upstreamId);
  const forged = await http(stack, 'POST', '/v1/upstream-webhooks/openai-compatible', {
    body: forgedBody,
    headers: sign(forgedBody, `whsec_${Buffer.from('someone else').toString('base64')}`),
  });
  expect(forged.status).toBe(401);
  expect(forged.body.error.code).toBe('invalid_signature');
  expect((await http(stack, 'POST', '/v1/upstream-webhooks/no-such-provider', { body: forgedBody, headers: sign(forgedBody) })).status).toBe(404);
  // Genuine, but about a video no task waits on.
  const strangerBody = event('video_nobody');
  expect((await http(stack, 'POST', '/v1/upstream-webhooks/openai-compatible', { body: strangerBody, headers: sign(strangerBody) })).status).toBe(404);
  await expectUntouched(id, retrieves);

  const body = event(upstreamId);
  // The upstream video is done once its queued time has passed; its webhook comes then.
  const created = openai.calls('create').at(-1)!.at;
  await new Promise((r) => setTimeout(r, Math.max(0, created + OPENAI_QUEUED_MS + 50 - Date.now())));
  const delivered = await http(stack, 'POST', '/v1/upstream-webhooks/openai-compatible', { body, headers: sign(body) });
  expect(delivered.status).toBe(200);
  // Woken: the worker asks the upstream at once instead of two minutes from now, and finishes.
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  expect(retrieves()).toBe(1);
  expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).bytes.equals(emulatedContent(upstreamId, 'video'))).toBe(true);
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedShapeModel, freePort, http, LumaEmulator, MiniMaxEmulator, testMp4, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Callbacks from upstreams that do not sign them (MiniMax, Luma): MiniMax's URL check is answered
 * by the webhook route even before the submit has returned, and a delivery only wakes the task for
 * a poll, so a forged "completed" changes nothing the upstream does not confirm. Scheduled polls
 * are two minutes apart: a task that finishes sooner finished on a callback.
 */
const POLL_DELAY_MS = 120_000;
let dir: string;
let mp4: Buffer;
let minimax: MiniMaxEmulator;
let luma: LumaEmulator;
let stack: Stack;

const model = (id: string, target: Record<string, unknown>, size: string, duration: number) => fixedShapeModel(id, [target], size, duration);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-callbacks-'));
  mp4 = testMp4({ width: 128, height: 72, fps: 24 });
  minimax = new MiniMaxEmulator({ apiKey: 'mm-key', video: mp4, mode: 'manual' });
  luma = new LumaEmulator({ apiKey: 'luma-key', video: mp4, mode: 'manual' });
  await minimax.start();
  await luma.start();
  const catalog = join(dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'hailuo',
      models: [
        model('hailuo', { provider: 'minimax', upstreamModel: 'MiniMax-Hailuo-02', baseUrl: minimax.url, credentials: 'E2E_MINIMAX' }, '1366x768', 6),
        model('luma', { provider: 'luma', upstreamModel: 'ray-2', baseUrl: luma.url, credentials: 'E2E_LUMA' }, '1280x720', 5),
      ],
    }),
  );
  const port = await freePort();
  stack = await startStack({
    PORT: String(port),
    REELAY_PUBLIC_URL: `http://127.0.0.1:${port}`,
    REELAY_MODELS_FILE: catalog,
    E2E_MINIMAX: 'mm-key',
    E2E_LUMA: 'luma-key',
    POLL_FIRST_MS: String(POLL_DELAY_MS),
    POLL_MIN_MS: String(POLL_DELAY_MS),
    POLL_MAX_MS: String(POLL_DELAY_MS),
  });
});

afterAll(async () => {
  await stack?.close();
  await minimax?.close();
  await luma?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function submitted(json: Record<string, unknown>) {
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json });
  expect(created.status).toBe(200);
  const id = created.body.id as string;
  const task = await until('the upstream submit', async () => {
    const t = await stack.db.task.findUnique({ where: { id } });
    const job = await stack.api.deps.tasksQueue.getJob(id);
    return t?.status === 'processing' && t.upstreamId && job && (await job.isDelayed()) ? t : null;
  });
  return { id, upstreamId: task.upstreamId! };
}

test('MiniMax: the route echoes the URL check during the submit; the success callback finishes the task without waiting for a poll', async () => {
  const { id, upstreamId } = await submitted({ model: 'hailuo', prompt: 'A lantern in the rain', size: '1366x768', seconds: '6' });
  const callbackUrl = `${stack.config.REELAY_PUBLIC_URL}/v1/upstream-webhooks/minimax/${id}`;
  expect((minimax.requests('POST', /video_generation$/).at(-1)!.json as Record<string, unknown>).callback_url).toBe(callbackUrl);
  expect(minimax.challenges.at(-1)).toEqual({ url: callbackUrl, echoed: true });

  await minimax.setStatus(upstreamId, 'Success');
  expect(minimax.deliveries.at(-1)).toMatchObject({ url: callbackUrl, status: 200 });
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).bytes.equals(mp4)).toBe(true);
});

test('Luma: a forged "completed" wakes the task, but the poll says it is still queued and it stays processing', async () => {
  const { id, upstreamId } = await submitted({ model: 'luma', prompt: 'A paper boat', size: '1280x720', seconds: '5' });
  const url = `/v1/upstream-webhooks/luma/${id}`;
  const forged = JSON.stringify({ id: upstreamId, state: 'completed', assets: { video: 'http://127.0.0.1:1/evil.mp4' } });
  const res = await http(stack, 'POST', url, { body: forged, headers: { 'content-type': 'application/json' } });
  expect(res.status).toBe(200);
  const polled = await until('the woken poll', async () => {
    const t = await stack.db.task.findUnique({ where: { id } });
    return t && t.pollCount === 1 ? t : null;
  });
  expect(polled.status).toBe('processing');
  expect(luma.requests('GET', new RegExp(`/generations/${upstreamId}$`))).toHaveLength(1);

  // A delivery naming another generation is refused and wakes nothing.
  const other = await http(stack, 'POST', url, {
    body: JSON.stringify({ id: 'another', state: 'completed' }),
    headers: { 'content-type': 'application/json' },
  });
  expect(other.status).toBe(401);

  // The real completion arrives by callback and ends the task.
  await luma.setState(upstreamId, 'completed');
  expect(luma.deliveries.at(-1)).toMatchObject({ status: 200 });
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
});

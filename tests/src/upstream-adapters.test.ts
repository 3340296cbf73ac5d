import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVideo, http, isJpeg, probe, ReplicateEmulator, testMp4, VeoEmulator, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * The fal/Replicate/Veo adapters behind the real API and worker, as a client sees them: a Veo
 * video arrives as Reelay content; what Veo cannot render and what an upstream model rejects
 * end as failed tasks whose error says why.
 */
const GEMINI_KEY = 'AIzaE2eKey0123456789';
const REPLICATE_TOKEN = 'r8_e2e_adapters_0123456789';

let dir: string;
let mp4: Buffer;
let veo: VeoEmulator;
let replicate: ReplicateEmulator;
let stack: Stack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-adapters-'));
  mp4 = testMp4({ width: 128, height: 72, fps: 24 });
  veo = new VeoEmulator({ apiKey: GEMINI_KEY, video: mp4, pollsToFinish: 2 });
  replicate = new ReplicateEmulator({ token: REPLICATE_TOKEN, video: mp4, failMessage: 'Prediction failed: the seed must be below 2^31' });
  await veo.start();
  await replicate.start();
  const limits = {
    duration: { values: [4, 6, 8] },
    size: { values: ['1280x720', '1920x1080', '1024x1024'] },
    fps: { values: [24] },
    maxN: 1,
    defaults: { duration: 4, width: 1280, height: 720, fps: 24 },
  };
  const catalog = join(dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'veo',
      models: [
        {
          id: 'veo',
          targets: [{ provider: 'gemini-veo', upstreamModel: 'veo-3.1-fast-generate-preview', baseUrl: veo.url, credentials: 'E2E_GEMINI_KEY' }],
          ...limits,
        },
        { id: 'wan', targets: [{ provider: 'replicate', upstreamModel: 'acme/wan', baseUrl: replicate.url, credentials: 'E2E_REPLICATE_TOKEN' }], ...limits },
      ],
    }),
  );
  stack = await startStack({ REELAY_MODELS_FILE: catalog, E2E_GEMINI_KEY: GEMINI_KEY, E2E_REPLICATE_TOKEN: REPLICATE_TOKEN });
});

afterAll(async () => {
  await stack?.close();
  await veo?.close();
  await replicate?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function create(json: Record<string, unknown>) {
  const { id } = await createVideo(stack, stack.key, json);
  return waitForVideo(stack, stack.key, id, 90_000);
}

test('a Veo video is generated, downloaded with the key and served by Reelay', async () => {
  const { video } = await create({ model: 'veo', prompt: 'Waves on a pebble beach', size: '1280x720', seconds: '4' });
  expect(video.status).toBe('completed');
  const sent = veo.requests('POST', /:predictLongRunning$/).at(-1)!.json as { parameters: Record<string, unknown> };
  expect(sent.parameters).toMatchObject({ aspectRatio: '16:9', resolution: '720p', durationSeconds: 4 });
  const content = await http(stack, 'GET', `/v1/videos/${video.id}/content`, { key: stack.key });
  expect(content.bytes.equals(mp4)).toBe(true);
  expect(probe(content.bytes).codec).toBe('h264');
  expect(isJpeg((await http(stack, 'GET', `/v1/videos/${video.id}/content?variant=thumbnail`, { key: stack.key })).bytes)).toBe(true);
});

test('a size or duration Veo cannot render fails the task with a message naming what it can, without calling Google', async () => {
  const before = veo.requests('POST', /./).length;
  const square = await create({ model: 'veo', prompt: 'A square clip', size: '1024x1024', seconds: '4' });
  expect(square.video.status).toBe('failed');
  expect(square.video.error).toEqual({
    code: 'invalid_request',
    message: 'veo: veo-3.1-fast-generate-preview cannot render size 1024x1024: it renders 1280x720, 720x1280, 1920x1080, 1080x1920, 3840x2160, 2160x3840',
  });
  const short1080 = await create({ model: 'veo', prompt: 'Too short for 1080p', size: '1920x1080', seconds: '4' });
  expect(short1080.video.error.message).toContain('1080p needs an 8 second clip');
  expect(veo.requests('POST', /./).length).toBe(before);
});

test("an upstream model's failure reaches the client in the task's error", async () => {
  const { video } = await create({ model: 'wan', prompt: 'this one will fail', size: '1280x720', seconds: '4' });
  expect(video.status).toBe('failed');
  expect(video.error).toEqual({ code: 'upstream_error', message: 'replicate: Prediction failed: the seed must be below 2^31' });
});

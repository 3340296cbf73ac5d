import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ComfyUIEmulator,
  createVideo,
  fixedShapeModel,
  http,
  KlingEmulator,
  LumaEmulator,
  MiniMaxEmulator,
  probe,
  RunwayEmulator,
  SeedanceEmulator,
  testMp4,
  until,
  waitForVideo,
} from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Runway, Luma, MiniMax, Kling, Seedance and ComfyUI behind the real API and worker: a catalog
 * routes a model to each, `POST /v1/videos` runs to completed and the content downloads from
 * Reelay; a model whose first upstream is down is served by its second.
 */
const KEYS = {
  runway: `key_${'cd'.repeat(64)}`,
  luma: 'luma-e2e-key',
  minimax: 'minimax-e2e-key',
  klingAk: 'kling-e2e-ak',
  klingSk: 'kling-e2e-sk',
  ark: 'ark-e2e-key',
};

let dir: string;
let mp4: Buffer;
let runway: RunwayEmulator;
let luma: LumaEmulator;
let minimax: MiniMaxEmulator;
let kling: KlingEmulator;
let seedance: SeedanceEmulator;
let seedanceDown: SeedanceEmulator;
let comfy: ComfyUIEmulator;
let stack: Stack;

const model = fixedShapeModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-more-upstreams-'));
  mp4 = testMp4({ width: 128, height: 72, fps: 24 });
  runway = new RunwayEmulator({ apiKey: KEYS.runway, video: mp4, mode: 'manual' });
  luma = new LumaEmulator({ apiKey: KEYS.luma, video: mp4 });
  minimax = new MiniMaxEmulator({ apiKey: KEYS.minimax, video: mp4 });
  kling = new KlingEmulator({ accessKey: KEYS.klingAk, secretKey: KEYS.klingSk, video: mp4 });
  seedance = new SeedanceEmulator({ apiKey: KEYS.ark, video: mp4 });
  seedanceDown = new SeedanceEmulator({ apiKey: KEYS.ark, video: mp4 });
  comfy = new ComfyUIEmulator({ video: mp4, mode: 'manual' });
  for (const e of [runway, luma, minimax, kling, seedance, seedanceDown, comfy]) await e.start();
  seedanceDown.server.interrupt({ status: 503, body: { error: { code: 'ServiceUnavailable', message: 'down for maintenance' } }, times: 1000 });

  const workflow = {
    '1': { class_type: 'UNETLoader', inputs: { unet_name: 'wan.safetensors', weight_dtype: 'default' } },
    '2': { class_type: 'CLIPTextEncode', inputs: { text: '{{prompt}}', clip: ['1', 0] } },
    '3': { class_type: 'KSampler', inputs: { seed: '{{seed}}', steps: 20, model: ['1', 0], positive: ['2', 0], latent_image: ['4', 0] } },
    '4': { class_type: 'EmptyHunyuanLatentVideo', inputs: { width: '{{width}}', height: '{{height}}', length: '{{frames}}', batch_size: 1 } },
    '5': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['1', 0] } },
    '6': { class_type: 'VHS_VideoCombine', inputs: { images: ['5', 0], frame_rate: '{{fps}}', filename_prefix: 'e2e', format: 'video/h264-mp4' } },
  };
  const catalog = join(dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'runway',
      models: [
        model('runway', [{ provider: 'runway', upstreamModel: 'gen4.5', baseUrl: runway.url, credentials: 'E2E_RUNWAY' }], '1280x720', 5),
        model('luma', [{ provider: 'luma', upstreamModel: 'ray-2', baseUrl: luma.url, credentials: 'E2E_LUMA' }], '1280x720', 5),
        model('hailuo', [{ provider: 'minimax', upstreamModel: 'MiniMax-Hailuo-02', baseUrl: minimax.url, credentials: 'E2E_MINIMAX' }], '1366x768', 6),
        model(
          'kling',
          [
            {
              provider: 'kling',
              upstreamModel: 'kling-v2-master',
              baseUrl: kling.url,
              credentials: 'E2E_KLING_AK',
              options: { secretKeyEnv: 'E2E_KLING_SK', mode: 'pro' },
            },
          ],
          '1280x720',
          5,
        ),
        model('seedance', [{ provider: 'seedance', upstreamModel: 'seedance-1-0-pro-250528', baseUrl: seedance.url, credentials: 'E2E_ARK' }], '1280x720', 5),
        model('comfy', [{ provider: 'comfyui', baseUrl: comfy.url, options: { workflow } }], '848x480', 2),
        model(
          'failover',
          [
            { provider: 'seedance', upstreamModel: 'seedance-1-0-pro-250528', baseUrl: seedanceDown.url, credentials: 'E2E_ARK' },
            { provider: 'luma', upstreamModel: 'ray-2', baseUrl: luma.url, credentials: 'E2E_LUMA' },
          ],
          '1280x720',
          5,
        ),
      ],
    }),
  );
  stack = await startStack({
    REELAY_MODELS_FILE: catalog,
    E2E_RUNWAY: KEYS.runway,
    E2E_LUMA: KEYS.luma,
    E2E_MINIMAX: KEYS.minimax,
    E2E_KLING_AK: KEYS.klingAk,
    E2E_KLING_SK: KEYS.klingSk,
    E2E_ARK: KEYS.ark,
  });
});

afterAll(async () => {
  await stack?.close();
  for (const e of [runway, luma, minimax, kling, seedance, seedanceDown, comfy]) await e?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function completed(json: Record<string, unknown>) {
  const { id } = await createVideo(stack, stack.key, json);
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video).toMatchObject({ status: 'completed' });
  const content = await http(stack, 'GET', `/v1/videos/${video.id}/content`, { key: stack.key });
  expect(content.status).toBe(200);
  expect(content.bytes.equals(mp4)).toBe(true);
  expect(probe(content.bytes).codec).toBe('h264');
  return video;
}

/** Waits until the client sees the task running at `progress`. */
const progressSeen = (id: string, progress: number) =>
  until(
    `video ${id} at ${progress}%`,
    async () => {
      const res = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
      return ['processing', 'in_progress'].includes(res.body.status) && res.body.progress === progress ? true : null;
    },
    30_000,
    100,
  );

test('Runway: the client sees its progress, then the video completes and downloads from Reelay', async () => {
  const { id } = await createVideo(stack, stack.key, { model: 'runway', prompt: 'Clouds over a city', size: '1280x720', seconds: '5' });
  await progressSeen(id, 50);
  const task = await stack.db.task.findUnique({ where: { id } });
  runway.finish(task!.upstreamId!);
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).bytes.equals(mp4)).toBe(true);
  expect(runway.requests('POST', /^\/v1\/text_to_video$/).at(-1)!.json).toMatchObject({ model: 'gen4.5', ratio: '1280:720', duration: 5 });
});

test('Luma: a generation completes and downloads', async () => {
  await completed({ model: 'luma', prompt: 'A teddy bear playing guitar', size: '1280x720', seconds: '5' });
  expect(luma.requests('POST', /generations$/).at(-1)!.json).toMatchObject({ model: 'ray-2', aspect_ratio: '16:9', resolution: '720p', duration: '5s' });
});

test('MiniMax: the file is retrieved on success and downloads', async () => {
  await completed({ model: 'hailuo', prompt: 'A woman reads a book', size: '1366x768', seconds: '6' });
  expect(minimax.requests('GET', /^\/v1\/files\/retrieve$/).length).toBeGreaterThan(0);
});

test('Kling: signed with the access/secret key pair, submitted with the task id as external_task_id', async () => {
  const video = await completed({ model: 'kling', prompt: 'A retriever in autumn leaves', size: '1280x720', seconds: '5' });
  expect(kling.requests('POST', /text2video$/).at(-1)!.json).toMatchObject({
    model_name: 'kling-v2-master',
    mode: 'pro',
    duration: '5',
    external_task_id: video.id,
  });
});

test('Seedance: a content generation task completes and downloads', async () => {
  await completed({ model: 'seedance', prompt: 'Waves on a beach', size: '1280x720', seconds: '5' });
});

test('ComfyUI: the template is filled from the request, progress comes over the websocket, the output is fetched from /view', async () => {
  const { id } = await createVideo(stack, stack.key, { model: 'comfy', prompt: 'A fox in snow', size: '848x480', seconds: '2' });
  await progressSeen(id, 50);
  const queued = comfy.requests('POST', /^\/prompt$/).at(-1)!.json as { prompt: Record<string, { inputs: Record<string, unknown> }>; prompt_id: string };
  expect(queued.prompt['2']!.inputs.text).toBe('A fox in snow');
  expect(queued.prompt['4']!.inputs).toMatchObject({ width: 848, height: 480, length: 48 });
  comfy.finish(queued.prompt_id);
  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).bytes.equals(mp4)).toBe(true);
  // The history entry is dropped once the result is stored.
  await until('the history entry to be released', async () => (comfy.prompts.has(queued.prompt_id) ? null : true));
});

test('failover: a Seedance target that answers 503 passes the task to the Luma target', async () => {
  const lumaCreates = luma.requests('POST', /generations$/).length;
  await completed({ model: 'failover', prompt: 'Failover please', size: '1280x720', seconds: '5' });
  expect(seedanceDown.requests('POST', /tasks$/).length).toBeGreaterThan(0);
  expect(luma.requests('POST', /generations$/).length).toBe(lumaCreates + 1);
});

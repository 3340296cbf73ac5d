import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@reelay/config';
import { bytesOf, ComfyUIEmulator, rejection, submitRequest, until } from '@reelay/testing';
import { PermanentProviderError, TransientProviderError } from '../errors';
import type { ProviderInit, SubmitRequest } from '../provider';
import { ComfyUIProvider, promptIdFor } from './comfyui-provider';
import type { Workflow } from './workflow-template';

/** A text-to-video workflow in API format, as ComfyUI's "Export (API)" writes it, with placeholders. */
const WORKFLOW: Workflow = {
  '1': { class_type: 'UNETLoader', inputs: { unet_name: 'hunyuan_video_t2v_720p_bf16.safetensors', weight_dtype: 'default' } },
  '2': { class_type: 'CLIPTextEncode', inputs: { text: 'cinematic, {{prompt}}', clip: ['1', 0] } },
  '3': {
    class_type: 'KSampler',
    inputs: {
      seed: '{{seed}}',
      steps: 20,
      cfg: 6,
      sampler_name: 'euler',
      scheduler: 'simple',
      denoise: 1,
      model: ['1', 0],
      positive: ['2', 0],
      negative: ['4', 0],
      latent_image: ['5', 0],
    },
  },
  '4': { class_type: 'CLIPTextEncode', inputs: { text: '{{negative_prompt}}', clip: ['1', 0] } },
  '5': { class_type: 'EmptyHunyuanLatentVideo', inputs: { width: '{{width}}', height: '{{height}}', length: '{{frames}}', batch_size: 1 } },
  '6': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['1', 0] } },
  '7': { class_type: 'VHS_VideoCombine', inputs: { images: ['6', 0], frame_rate: '{{fps}}', filename_prefix: 'reelay', format: 'video/h264-mp4' } },
};

const video = randomBytes(16 * 1024);
let emu: ComfyUIEmulator;
let provider: ComfyUIProvider;
const opened: ComfyUIProvider[] = [];
const make = (over: Partial<ConstructorParameters<typeof ComfyUIProvider>[0]> = {}): ComfyUIProvider => {
  const p = new ComfyUIProvider({ workflow: WORKFLOW, baseUrl: emu.url, requestTimeoutMs: 1000, ...over });
  opened.push(p);
  return p;
};

beforeEach(async () => {
  emu = new ComfyUIEmulator({ video });
  await emu.start();
  provider = make();
});
afterEach(async () => {
  for (const p of opened.splice(0)) p.close();
  await emu.close();
});

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: 'vid_comfy',
    prompt: 'a fox running through snow',
    durationSeconds: 2,
    width: 848,
    height: 480,
    seed: 123456,
    metadata: { negative_prompt: 'blurry' },
    ...over,
  });

test('the template is filled with typed values, queued, run with websocket progress, and its video fetched from /view', async () => {
  const { upstreamId } = await provider.submit(request());
  expect(upstreamId).toBe(promptIdFor('vid_comfy'));
  const sent = emu.requests('POST', /^\/prompt$/)[0]!.json as { prompt: Workflow; client_id: string; prompt_id: string };
  expect(sent.prompt_id).toBe(upstreamId);
  expect(sent.prompt['2']!.inputs.text).toBe('cinematic, a fox running through snow');
  expect(sent.prompt['4']!.inputs.text).toBe('blurry');
  expect(sent.prompt['3']!.inputs.seed).toBe(123456);
  expect(sent.prompt['5']!.inputs).toEqual({ width: 848, height: 480, length: 48, batch_size: 1 });
  expect(sent.prompt['7']!.inputs.frame_rate).toBe(24);
  expect(sent.prompt['3']!.inputs.model).toEqual(['1', 0]); // links untouched
  expect(emu.connectedClients).toContain(sent.client_id);

  emu.mode = 'manual';
  expect(
    await until('progress from the websocket', async () => {
      const r = await provider.poll(upstreamId);
      return r.state === 'running' && r.progress === 50 ? r : null;
    }),
  ).toEqual({ state: 'running', progress: 50 });
  emu.finish(upstreamId);
  const done = await provider.poll(upstreamId);
  if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
  expect(done.outputs[0]!.video).toMatchObject({ kind: 'url', url: expect.stringContaining('/view?filename=reelay_') });
  expect((await bytesOf(await provider.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
  // Nothing left in flight: the socket closes.
  await until('the websocket to close', async () => (emu.connectedClients.includes(sent.client_id) ? null : true));
});

test('a resubmit of the same task queues nothing new (the prompt id comes from the task id)', async () => {
  emu.mode = 'manual';
  const first = await provider.submit(request());
  const second = await make().submit(request()); // another worker process, after a crash
  expect(second.upstreamId).toBe(first.upstreamId);
  expect(emu.requests('POST', /^\/prompt$/)).toHaveLength(1);
  emu.finish(first.upstreamId);
  expect((await provider.submit(request())).upstreamId).toBe(first.upstreamId); // done: found in the history
  expect(emu.requests('POST', /^\/prompt$/)).toHaveLength(1);
});

test('a second prompt waits with its queue position, then runs', async () => {
  emu.mode = 'manual';
  const a = await provider.submit(request());
  const b = await provider.submit(request({ taskId: 'vid_b', idempotencyKey: 'vid_b' }));
  expect(await provider.poll(b.upstreamId)).toEqual({ state: 'queued', queuePosition: 1 });
  emu.finish(a.upstreamId);
  expect(await provider.poll(b.upstreamId)).toMatchObject({ state: 'running' });
});

test("an input image is uploaded and its name put in the template's {{image}}", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'comfy-test-'));
  try {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(50)]);
    writeFileSync(join(dir, 'in.png'), png);
    const i2v = make({ workflow: { ...WORKFLOW, '8': { class_type: 'LoadImage', inputs: { image: '{{image}}' } } } });
    const { upstreamId } = await i2v.submit(request({ imagePath: join(dir, 'in.png') }));
    const name = `reelay-${upstreamId}.png`;
    expect(emu.uploads.get(name)!.equals(png)).toBe(true);
    expect((emu.requests('POST', /^\/prompt$/)[0]!.json as { prompt: Workflow }).prompt['8']!.inputs.image).toBe(name);
    // A workflow with {{image}} needs one; one without takes none.
    expect((await rejection(i2v.submit(request({ taskId: 'x', idempotencyKey: 'x' })))).message).toContain('needs an input image');
    expect((await rejection(provider.submit(request({ imagePath: join(dir, 'in.png') })))).message).toContain('takes no input image');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a workflow ComfyUI refuses is a permanent invalid_request naming the node and input', async () => {
  const broken = make({
    workflow: { ...WORKFLOW, '5': { class_type: 'EmptyHunyuanLatentVideo', inputs: { width: '{{width}}', height: 0, length: '{{frames}}', batch_size: 1 } } },
  });
  const err = await rejection(broken.submit(request()));
  expect(err).toBeInstanceOf(PermanentProviderError);
  expect((err as PermanentProviderError).code).toBe('invalid_request');
  expect(err.message).toBe('comfyui: Prompt outputs failed validation; node 5 (EmptyHunyuanLatentVideo): Value smaller than min of 1: height: 0');
  const missing = make({ workflow: { ...WORKFLOW, '9': { class_type: 'WanImageToVideo', inputs: {} } } });
  expect((await rejection(missing.submit(request()))).message).toBe("comfyui: Cannot execute because node WanImageToVideo does not exist.: Node ID '#9'");
});

test("a node's execution error fails the task with ComfyUI's message", async () => {
  const { upstreamId } = await provider.submit(request({ prompt: 'this will fail' }));
  await provider.poll(upstreamId);
  expect(await provider.poll(upstreamId)).toEqual({
    state: 'failed',
    code: 'upstream_error',
    message: 'comfyui: KSampler failed: CUDA out of memory. Tried to allocate 2.00 GiB',
  });
});

test('cancel interrupts the running prompt and deletes a waiting one from the queue', async () => {
  emu.mode = 'manual';
  const running = await provider.submit(request());
  const waiting = await provider.submit(request({ taskId: 'vid_w', idempotencyKey: 'vid_w' }));
  await provider.cancel(waiting.upstreamId);
  expect(emu.requests('POST', /^\/queue$/)[0]!.json).toEqual({ delete: [waiting.upstreamId] });
  expect(emu.prompts.has(waiting.upstreamId)).toBe(false);
  expect(emu.requests('POST', /^\/interrupt$/)).toHaveLength(0); // never interrupt someone else's prompt
  await provider.cancel(running.upstreamId);
  expect(emu.requests('POST', /^\/interrupt$/)[0]!.json).toEqual({ prompt_id: running.upstreamId });
  expect(await provider.poll(running.upstreamId)).toEqual({ state: 'failed', code: 'cancelled', message: 'comfyui: the prompt was interrupted' });
  expect(await provider.poll(waiting.upstreamId)).toMatchObject({ state: 'failed', code: 'upstream_error' }); // gone from the server
});

test('release drops the history entry once the outputs are stored', async () => {
  const { upstreamId } = await provider.submit(request());
  await provider.poll(upstreamId);
  expect((await provider.poll(upstreamId)).state).toBe('succeeded');
  await provider.release(upstreamId);
  expect(emu.requests('POST', /^\/history$/)[0]!.json).toEqual({ delete: [upstreamId] });
  expect(emu.prompts.has(upstreamId)).toBe(false);
});

test('without the websocket (progress: false) polling alone carries the task; a 5xx and a timeout are transient', async () => {
  const quiet = make({ progress: false });
  const { upstreamId } = await quiet.submit(request());
  expect(emu.connectedClients).toHaveLength(0);
  emu.server.interrupt({ status: 500, body: { error: 'Internal Server Error' } });
  expect(await rejection(quiet.poll(upstreamId))).toBeInstanceOf(TransientProviderError);
  emu.server.interrupt({ delayMs: 2000 });
  expect((await rejection(quiet.poll(upstreamId))).message).toContain('timed out after 1000 ms');
  await quiet.poll(upstreamId);
  expect((await quiet.poll(upstreamId)).state).toBe('succeeded');
});

test('the SaveVideo node (outputs under `images`) and outputNode are honoured', async () => {
  const core = new ComfyUIEmulator({ video, outputKey: 'images' });
  await core.start();
  try {
    const wf = { ...WORKFLOW, '7': { class_type: 'SaveVideo', inputs: { video: ['6', 0], filename_prefix: 'core', format: 'mp4', codec: 'h264' } } };
    const p = new ComfyUIProvider({ workflow: wf, outputNode: '7', baseUrl: core.url, progress: false });
    const { upstreamId } = await p.submit(request());
    await p.poll(upstreamId);
    const done = await p.poll(upstreamId);
    if (done.state !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(done)}`);
    expect((await bytesOf(await p.fetchOutput(done.outputs[0]!.video))).equals(video)).toBe(true);
  } finally {
    await core.close();
  }
});

describe('the factory checks the catalog template', () => {
  const init = (options: Record<string, unknown>): ProviderInit => ({
    targetKey: 'comfyui||',
    baseUrl: undefined,
    apiKey: undefined,
    requestTimeoutMs: 1000,
    options,
    config: parseConfig({}),
  });
  test.each([
    ['no workflow', {}, 'comfyui options.workflow is required'],
    ['a list', { workflow: [] }, 'options.workflow must be an object of nodes'],
    ['a node without class_type', { workflow: { '1': { inputs: {} } } }, 'node "1" must have a class_type and an inputs object'],
    ['no {{prompt}}', { workflow: { '1': { class_type: 'CLIPTextEncode', inputs: { text: 'no placeholder' } } } }, 'has no {{prompt}} placeholder'],
    ['an unknown placeholder', { workflow: { ...WORKFLOW, '9': { class_type: 'X', inputs: { a: '{{steps}}' } } } }, 'uses unknown placeholder {{steps}}'],
    ['a missing outputNode', { workflow: WORKFLOW, outputNode: '42' }, 'options.outputNode must be the id of a node'],
    ['an unreadable workflowFile', { workflowFile: '/nonexistent/workflow.json' }, 'options.workflowFile /nonexistent/workflow.json: ENOENT'],
    ['a non-boolean progress', { workflow: WORKFLOW, progress: 'yes' }, 'options.progress must be true or false'],
  ])('%s is refused', (_label, options, message) => {
    expect(() => ComfyUIProvider.fromInit(init(options))).toThrow(message);
  });

  test('a workflow file is read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'comfy-wf-'));
    try {
      writeFileSync(join(dir, 'wf.json'), JSON.stringify(WORKFLOW));
      const p = ComfyUIProvider.fromInit(init({ workflowFile: join(dir, 'wf.json'), progress: false }));
      expect(p.name).toBe('comfyui');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

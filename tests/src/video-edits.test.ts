import { readFileSync, writeFileSync } from 'node:fs';
import OpenAI, { BadRequestError, NotFoundError, toFile } from 'openai';
import { averageColor, http, isMp4, probe, solidPng, testMp4, until, writeTestCatalog } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Edits, extensions and characters through the official `openai` SDK (7.57.0): videos.edit,
 * videos.extend, videos.createCharacter, videos.getCharacter, as code written for OpenAI's video
 * service calls them. The preview renderer does each with ffmpeg; ffprobe checks what comes out.
 * Also: the openai-poll-after-ms pacing header, and CORS on /v1 but not on /admin.
 */
let stack: Stack;
let openai: OpenAI;
let otherKey: string;
let other: OpenAI;

const client = (s: Stack, apiKey: string): OpenAI => new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });

async function finished(sdk: OpenAI, id: string): Promise<OpenAI.Videos.Video> {
  return until(
    `video ${id} to end`,
    async () => {
      const v = await sdk.videos.retrieve(id);
      return v.status === 'completed' || v.status === 'failed' ? v : null;
    },
    120_000,
  );
}

async function content(sdk: OpenAI, id: string): Promise<Buffer> {
  return Buffer.from(await (await sdk.videos.downloadContent(id)).arrayBuffer());
}

/** The SDK's error, for asserting on status, code and param. */
async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string; param: string | null; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { status: number; error?: { code: string; param: string | null; message: string } };
    return { status: e.status, code: e.error?.code ?? '', param: e.error?.param ?? null, message: e.error?.message ?? '' };
  }
  throw new Error('expected the call to be refused');
}

const distance = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

let sourceId: string;

beforeAll(async () => {
  // The test catalog plus a model served only by an adapter that does plain creates.
  const path = writeTestCatalog();
  const catalog = JSON.parse(readFileSync(path, 'utf8'));
  catalog.models.push({
    ...catalog.models.find((m: { id: string }) => m.id === 'tiny'),
    id: 'tiny-fal',
    targets: [{ provider: 'fal', upstreamModel: 'fal-ai/example', baseUrl: 'http://127.0.0.1:9', credentials: 'EDITS_TEST_FAL_KEY' }],
  });
  catalog.models.push({ ...catalog.models.find((m: { id: string }) => m.id === 'tiny'), id: 'tiny-priced', pricing: [{ microsPerSecond: 1000 }] });
  writeFileSync(path, JSON.stringify(catalog));
  stack = await startStack({
    REELAY_MODELS_FILE: path,
    EDITS_TEST_FAL_KEY: 'not-a-real-key',
    REELAY_CORS_ORIGINS: '*',
    REELAY_MAX_VIDEO_UPLOAD_BYTES: '400000',
  });
  openai = client(stack, stack.key);
  otherKey = await stack.newKey();
  other = client(stack, otherKey);
  const created = await openai.videos.create({
    model: 'tiny',
    prompt: 'the source: a red kite',
    seconds: '2' as OpenAI.Videos.VideoSeconds,
    size: '128x96' as OpenAI.Videos.VideoSize,
  });
  sourceId = created.id;
  expect((await finished(openai, sourceId)).status).toBe('completed');
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

test('edit by video id: a new video of the same duration and size, visibly changed, under the new prompt', async () => {
  const edit = await openai.videos.edit({ prompt: 'the same kite, now at night', video: { id: sourceId } });
  expect(edit).toMatchObject({ object: 'video', model: 'tiny', size: '128x96', prompt: 'the same kite, now at night' });
  expect(edit.id).not.toBe(sourceId);
  expect((await finished(openai, edit.id)).status).toBe('completed');

  const [src, out] = [await content(openai, sourceId), await content(openai, edit.id)];
  expect(isMp4(out)).toBe(true);
  const [ps, pe] = [probe(src), probe(out)];
  expect({ width: pe.width, height: pe.height, frames: pe.frames, fps: pe.fps }).toEqual({
    width: ps.width,
    height: ps.height,
    frames: ps.frames,
    fps: ps.fps,
  });
  expect(Math.abs(pe.duration - ps.duration)).toBeLessThan(0.05);
  expect(distance(averageColor(out, 1), averageColor(src, 1))).toBeGreaterThan(10);

  const listed = await openai.videos.list({ limit: 5 });
  expect(listed.data.map((v) => v.id)).toContain(edit.id);
  const row = await stack.db.task.findUniqueOrThrow({ where: { id: edit.id } });
  expect([row.operation, row.sourceVideoId, row.producedSeconds]).toEqual(['edit', sourceId, 2]);
});

test('edit of an uploaded MP4 keeps its duration and size', async () => {
  const mp4 = testMp4({ width: 160, height: 120, fps: 12, seconds: 2 });
  const file = await toFile(mp4, 'clip.mp4', { type: 'video/mp4' });
  const edit = await openai.videos.edit({ prompt: 'recolour the test card', video: file, model: 'tiny' } as OpenAI.Videos.VideoEditParams);
  expect(edit).toMatchObject({ size: '160x120', model: 'tiny' });
  expect((await finished(openai, edit.id)).status).toBe('completed');
  const out = probe(await content(openai, edit.id));
  expect({ width: out.width, height: out.height, fps: out.fps, frames: out.frames }).toEqual({ width: 160, height: 120, fps: 12, frames: 24 });
  expect(Math.abs(out.duration - probe(mp4).duration)).toBeLessThan(0.05);
});

test('extend: one continuous MP4, the source followed by `seconds` more, billed for the added seconds', async () => {
  const ext = await openai.videos.extend({ prompt: 'the kite flies on into the clouds', seconds: '2' as OpenAI.Videos.VideoSeconds, video: { id: sourceId } });
  expect(ext).toMatchObject({ size: '128x96', model: 'tiny' });
  expect(Number(ext.seconds)).toBe(4);
  expect((await finished(openai, ext.id)).status).toBe('completed');

  const [src, out] = [await content(openai, sourceId), await content(openai, ext.id)];
  const [ps, pe] = [probe(src), probe(out)];
  expect(pe.frames).toBe(ps.frames * 2);
  expect(Math.abs(pe.duration - (ps.duration + 2))).toBeLessThan(0.05);
  // The first part is the source itself; the added part is new footage.
  expect(distance(averageColor(out, 0.5), averageColor(src, 0.5))).toBeLessThan(12);
  expect(distance(averageColor(out, 3), averageColor(src, 1.5))).toBeGreaterThan(10);
  const row = await stack.db.task.findUniqueOrThrow({ where: { id: ext.id } });
  expect([row.operation, row.producedSeconds]).toEqual(['extend', 2]);

  // An uploaded source works the same way.
  const upload = await toFile(testMp4({ width: 128, height: 128, fps: 10, seconds: 1 }), 'one.mp4', { type: 'video/mp4' });
  const fromUpload = await openai.videos.extend({
    prompt: 'and then',
    seconds: '1' as OpenAI.Videos.VideoSeconds,
    video: upload,
    model: 'tiny',
  } as OpenAI.Videos.VideoExtendParams);
  expect((await finished(openai, fromUpload.id)).status).toBe('completed');
  expect(probe(await content(openai, fromUpload.id))).toMatchObject({ width: 128, height: 128, frames: 20 });
});

test('billing: an edit costs its whole clip, an extension only the seconds it adds', async () => {
  const source = await openai.videos.create({ model: 'tiny-priced', prompt: 'priced source', seconds: '1' as OpenAI.Videos.VideoSeconds });
  expect((await finished(openai, source.id)).status).toBe('completed');
  const edit = await openai.videos.edit({ prompt: 'priced edit', video: { id: source.id } });
  const ext = await openai.videos.extend({ prompt: 'priced extension', seconds: '3' as OpenAI.Videos.VideoSeconds, video: { id: source.id } });
  const costs = [];
  for (const id of [source.id, edit.id, ext.id]) {
    await finished(openai, id);
    costs.push((await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key })).body.cost_micros);
  }
  expect(costs).toEqual([1000, 1000, 3000]);
});

test('createCharacter / getCharacter round-trip; another key gets 404 for the character and 400 for the video', async () => {
  const clip = await toFile(testMp4({ width: 128, height: 128, fps: 10, seconds: 1 }), 'hero.mp4', { type: 'video/mp4' });
  const made = await openai.videos.createCharacter({ name: 'Captain Kite', video: clip });
  expect(made).toEqual({ id: expect.stringMatching(/^char_[0-9A-Za-z]+$/), name: 'Captain Kite', created_at: expect.any(Number) });
  expect(Math.abs(made.created_at - Date.now() / 1000)).toBeLessThan(60);
  expect(await openai.videos.getCharacter(made.id!)).toEqual(made);

  await expect(other.videos.getCharacter(made.id!)).rejects.toBeInstanceOf(NotFoundError);
  await expect(openai.videos.getCharacter('char_doesnotexist')).rejects.toBeInstanceOf(NotFoundError);
  await expect(other.videos.retrieve(sourceId)).rejects.toBeInstanceOf(NotFoundError);
  const foreign = await refusal(other.videos.edit({ prompt: 'not mine', video: { id: sourceId } }));
  expect(foreign).toMatchObject({ status: 400, param: 'video.id' });
  const foreignExtend = await refusal(other.videos.extend({ prompt: 'not mine', seconds: '4', video: { id: sourceId } }));
  expect(foreignExtend).toMatchObject({ status: 400, param: 'video.id' });
  // Nothing was created for the other key.
  expect((await other.videos.list()).data).toEqual([]);

  // A create casts it by `characters` or by its id in the prompt; the preview renderer takes characters.
  const cast = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { model: 'tiny', prompt: `${made.id} flies a kite`, characters: [{ id: made.id }] },
  });
  expect(cast.status).toBe(200);
  expect((await finished(openai, cast.body.id)).status).toBe('completed');
  expect((await stack.db.task.findUniqueOrThrow({ where: { id: cast.body.id } })).characterIds).toEqual([made.id]);
  // Another key cannot cast it; a model whose provider takes no characters says so.
  const stolen = await http(stack, 'POST', '/v1/videos', { key: otherKey, json: { model: 'tiny', prompt: 'x', characters: [made.id] } });
  expect([stolen.status, stolen.body.error.param]).toEqual([400, 'characters']);
  const inPrompt = await http(stack, 'POST', '/v1/videos', { key: otherKey, json: { model: 'tiny', prompt: `starring ${made.id}` } });
  expect([inPrompt.status, inPrompt.body.error.param]).toEqual([400, 'characters']);
  const noCast = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model: 'tiny-fal', prompt: 'x', characters: [made.id] } });
  expect([noCast.status, noCast.body.error.code]).toEqual([400, 'unsupported_operation']);
  const malformed = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model: 'tiny', prompt: 'x', characters: ['../etc'] } });
  expect([malformed.status, malformed.body.error.param]).toEqual([400, 'characters.0']);
  expect((await other.videos.list()).data).toEqual([]);
});

test('openai-poll-after-ms is sent, positive, on create and on retrieve while unfinished', async () => {
  const res = await http(stack, 'POST', '/v1/videos/edits', { key: stack.key, json: { prompt: 'paced', video: { id: sourceId } } });
  expect(res.status).toBe(200);
  const onCreate = Number(res.headers.get('openai-poll-after-ms'));
  expect(onCreate).toBeGreaterThan(0);
  const seen: number[] = [];
  await until(
    'the edit to finish',
    async () => {
      const r = await http(stack, 'GET', `/v1/videos/${res.body.id}`, { key: stack.key });
      const header = r.headers.get('openai-poll-after-ms');
      if (r.body.status === 'completed') {
        expect(header).toBeNull();
        return true;
      }
      seen.push(Number(header));
      return null;
    },
    120_000,
    50,
  );
  expect(seen.length).toBeGreaterThan(0);
  expect(seen.every((ms) => Number.isInteger(ms) && ms > 0)).toBe(true);
});

test('CORS: a preflight from another origin is allowed on /v1/videos and refused on /admin/v1/keys', async () => {
  const preflight = {
    origin: 'https://app.elsewhere.example',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization,content-type',
  };
  const api = await http(stack, 'OPTIONS', '/v1/videos', { headers: preflight });
  expect(api.status).toBe(204);
  expect(api.headers.get('access-control-allow-origin')).toBe('*');
  expect(api.headers.get('access-control-allow-methods')).toContain('POST');
  expect(api.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  expect(api.headers.get('access-control-allow-credentials')).toBeNull();
  const get = await http(stack, 'GET', `/v1/videos/${sourceId}`, { key: stack.key, headers: { origin: 'https://app.elsewhere.example' } });
  expect(get.headers.get('access-control-allow-origin')).toBe('*');

  const admin = await http(stack, 'OPTIONS', '/admin/v1/keys', { headers: preflight });
  expect(admin.headers.get('access-control-allow-origin')).toBeNull();
  expect(admin.status).not.toBe(204);
  const console = await http(stack, 'OPTIONS', '/console', { headers: preflight });
  expect(console.headers.get('access-control-allow-origin')).toBeNull();
});

describe('refused before any task exists, naming the field', () => {
  // This stack's tasks only: other test files create tasks in the same database meanwhile.
  const count = () => stack.db.task.count({ where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX } });

  test('bad uploads: not an MP4, a truncated MP4, an image', async () => {
    const before = await count();
    const png = await toFile(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 'x.mp4', { type: 'video/mp4' });
    expect(await refusal(openai.videos.edit({ prompt: 'x', video: png }))).toMatchObject({ status: 400, param: 'video' });
    const mp4 = testMp4({ width: 128, height: 128, fps: 10, seconds: 1 });
    const cut = await toFile(mp4.subarray(0, Math.floor(mp4.length / 3)), 'cut.mp4', { type: 'video/mp4' });
    const truncated = await refusal(openai.videos.extend({ prompt: 'x', seconds: '4', video: cut }));
    expect(truncated).toMatchObject({ status: 400, code: 'invalid_parameter', param: 'video' });
    const junk = await toFile(Buffer.concat([Buffer.from('000000186674797069736f6d', 'hex'), Buffer.alloc(2000, 7)]), 'junk.mp4');
    expect(await refusal(openai.videos.createCharacter({ name: 'junk', video: junk }))).toMatchObject({ status: 400, param: 'video' });
    const huge = await toFile(Buffer.concat([mp4, Buffer.alloc(500_000)]), 'huge.mp4', { type: 'video/mp4' });
    expect(await refusal(openai.videos.edit({ prompt: 'x', video: huge }))).toMatchObject({ status: 413, code: 'payload_too_large', param: 'video' });
    // A file under another field is refused, on these routes and on a create (which takes images only).
    const form = new FormData();
    form.append('prompt', 'x');
    form.append('input_reference', new Blob([mp4], { type: 'video/mp4' }), 'a.mp4');
    const wrongField = await http(stack, 'POST', '/v1/videos/edits', { key: stack.key, body: form });
    expect([wrongField.status, wrongField.body.error.param]).toEqual([400, 'input_reference']);
    const create = new FormData();
    create.append('prompt', 'x');
    create.append('video', new Blob([mp4], { type: 'video/mp4' }), 'a.mp4');
    const onCreate = await http(stack, 'POST', '/v1/videos', { key: stack.key, body: create });
    expect([onCreate.status, onCreate.body.error.param]).toEqual([400, 'video']);
    expect(await count()).toBe(before);
  });

  test('malformed and unknown ids, missing fields, bad seconds, unsupported model', async () => {
    const before = await count();
    for (const id of ['vid_../../etc', '', 'x'.repeat(500), 'vid_doesnotexist0000000000']) {
      expect(await refusal(openai.videos.edit({ prompt: 'x', video: { id } }))).toMatchObject({ status: 400, param: 'video.id' });
    }
    const notString = await http(stack, 'POST', '/v1/videos/edits', { key: stack.key, json: { prompt: 'x', video: { id: 5 } } });
    expect([notString.status, notString.body.error.param]).toEqual([400, 'video.id']);
    const noVideo = await http(stack, 'POST', '/v1/videos/edits', { key: stack.key, json: { prompt: 'x' } });
    expect([noVideo.status, noVideo.body.error.param]).toEqual([400, 'video']);
    const noPrompt = await http(stack, 'POST', '/v1/videos/extensions', { key: stack.key, json: { seconds: '2', video: { id: sourceId } } });
    expect([noPrompt.status, noPrompt.body.error.param]).toEqual([400, 'prompt']);
    const badSeconds = await http(stack, 'POST', '/v1/videos/extensions', { key: stack.key, json: { prompt: 'x', seconds: 'four', video: { id: sourceId } } });
    expect([badSeconds.status, badSeconds.body.error.param]).toEqual([400, 'seconds']);
    const tooLong = await http(stack, 'POST', '/v1/videos/extensions', { key: stack.key, json: { prompt: 'x', seconds: 99, video: { id: sourceId } } });
    expect([tooLong.status, tooLong.body.error.param]).toEqual([400, 'seconds']);
    const unknown = await http(stack, 'POST', '/v1/videos/edits', { key: stack.key, json: { prompt: 'x', video: { id: sourceId }, colour: 'red' } });
    expect([unknown.status, unknown.body.error.param]).toEqual([400, 'colour']);

    const upload = await toFile(testMp4({ width: 128, height: 128, fps: 10, seconds: 1 }), 'a.mp4', { type: 'video/mp4' });
    const unsupported = await refusal(openai.videos.edit({ prompt: 'x', video: upload, model: 'tiny-fal' } as OpenAI.Videos.VideoEditParams));
    expect(unsupported).toMatchObject({ status: 400, code: 'unsupported_operation', param: 'model' });
    expect(unsupported.message).toContain('tiny-fal');

    for (const id of ['nope', 'char_', 'char_../x', 'vid_abc']) {
      await expect(openai.videos.getCharacter(id)).rejects.toBeInstanceOf(NotFoundError);
    }
    await expect(openai.videos.createCharacter({ name: '', video: upload })).rejects.toBeInstanceOf(BadRequestError);
    const noFile = await http(stack, 'POST', '/v1/videos/characters', { key: stack.key, json: { name: 'no video' } });
    expect([noFile.status, noFile.body.error.param]).toEqual([400, 'video']);
    expect(await count()).toBe(before);
  });
});

describe('input_reference {file_id}', () => {
  test('an unknown, malformed or foreign-shaped file id is a 400 on input_reference.file_id and creates nothing', async () => {
    const before = await stack.db.task.count({ where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX } });
    for (const file_id of ['file-abc123', 'file-', '../etc/passwd', 'x'.repeat(300)]) {
      const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model: 'tiny', prompt: 'x', input_reference: { file_id } } });
      expect([res.status, res.body.error.param]).toEqual([400, 'input_reference.file_id']);
    }
    expect(await stack.db.task.count({ where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX } })).toBe(before);
  });

  test("an image uploaded with files.create (purpose vision) is the key's input reference; another key's id is refused; a batch input file is not an image", async () => {
    const image = await openai.files.create({ file: await toFile(solidPng('orange', 64, 64), 'orange.png', { type: 'image/png' }), purpose: 'vision' });
    const mine = await http(stack, 'POST', '/v1/videos', {
      key: stack.key,
      json: { model: 'tiny', prompt: 'from a file', input_reference: { file_id: image.id } },
    });
    expect(mine.status).toBe(200);
    expect((await finished(openai, mine.body.id)).status).toBe('completed');
    const rgb = averageColor(await content(openai, mine.body.id), 0.5);
    expect(rgb[0]).toBeGreaterThan(150); // orange comes through: red high, blue low
    expect(rgb[2]).toBeLessThan(100);
    const theirs = await http(stack, 'POST', '/v1/videos', { key: otherKey, json: { model: 'tiny', prompt: 'x', input_reference: { file_id: image.id } } });
    expect([theirs.status, theirs.body.error.param]).toEqual([400, 'input_reference.file_id']);
    const lines = await openai.files.create({ file: await toFile(Buffer.from('{}\n'), 'in.jsonl'), purpose: 'batch' });
    const notImage = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model: 'tiny', prompt: 'x', input_reference: { file_id: lines.id } } });
    expect([notImage.status, notImage.body.error.param]).toEqual([400, 'input_reference.file_id']);
  });
});

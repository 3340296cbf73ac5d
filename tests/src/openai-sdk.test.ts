import OpenAI, { AuthenticationError, BadRequestError, NotFoundError, toFile } from 'openai';
import { isJpeg, isMp4, probe, until, writeTestCatalog } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * The official `openai` npm SDK (7.57.0) pointed at a running Reelay: code written against
 * OpenAI's Videos API keeps working. Most videos use `tiny-2` (an OpenAI-style model from the
 * test catalog: seconds 1 or 4, 128x128) so renders are quick; one test uses real sora-2 defaults.
 * The SDK's videos.create always sends multipart/form-data; the JSON create goes through the
 * same client's generic post().
 */
// A 16x16 blue PNG (made with ffmpeg's color source).
const PNG_16x16 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAABAAAAAQBPJcTWAAAAFklEQVR4nGMwTDlJEmIY1TCqYfhqAAB6aV4Qke+JEAAAAABJRU5ErkJggg==',
  'base64',
);

function client(stack: Stack, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${stack.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
}

/** Retrieves until the video ends, as a client's polling loop would; returns every status seen. */
async function pollUntilDone(openai: OpenAI, id: string, timeoutMs = 120_000): Promise<{ video: OpenAI.Videos.Video; statuses: string[] }> {
  const statuses: string[] = [];
  const video = await until(
    `video ${id} to end`,
    async () => {
      const v = await openai.videos.retrieve(id);
      statuses.push(v.status);
      return v.status === 'completed' || v.status === 'failed' ? v : null;
    },
    timeoutMs,
  );
  return { video, statuses };
}

async function download(openai: OpenAI, id: string, variant: 'video' | 'thumbnail' | 'spritesheet'): Promise<Buffer> {
  const res = await openai.videos.downloadContent(id, { variant });
  return Buffer.from(await res.arrayBuffer());
}

/** The same flow under both dialects; `words` are the live statuses the deployment speaks. */
function sdkFlow(dialect: 'seed' | 'openai') {
  const live = dialect === 'openai' ? ['queued', 'in_progress'] : ['pending', 'processing'];
  const fourSeconds = dialect === 'openai' ? '4' : '4.0';
  let stack: Stack;
  let openai: OpenAI;

  beforeAll(async () => {
    stack = await startStack({ REELAY_MODELS_FILE: writeTestCatalog(), ...(dialect === 'openai' ? { REELAY_STATUS_DIALECT: 'openai' } : {}) });
    openai = client(stack, stack.key);
  });
  afterAll(async () => {
    await stack.close();
  });

  test('create (SDK multipart and JSON), poll to completed, download video, thumbnail and spritesheet', async () => {
    const created = await openai.videos.create({ model: 'tiny-2', prompt: 'an SDK-made clip', seconds: '4' });
    expect(created).toMatchObject({ object: 'video', model: 'tiny-2', status: live[0], seconds: fourSeconds, size: '128x128', progress: 0 });
    const { video, statuses } = await pollUntilDone(openai, created.id);
    expect(video.status).toBe('completed');
    expect(video.progress).toBe(100);
    expect(statuses.every((s) => [...live, 'completed'].includes(s))).toBe(true);

    const mp4 = await download(openai, created.id, 'video');
    expect(isMp4(mp4)).toBe(true);
    expect(probe(mp4)).toMatchObject({ width: 128, height: 128, fps: 10, frames: 40 });
    expect(isJpeg(await download(openai, created.id, 'thumbnail'))).toBe(true);
    expect(isJpeg(await download(openai, created.id, 'spritesheet'))).toBe(true);

    // JSON body through the same client, in the seed's spelling.
    const viaJson = await openai.post<OpenAI.Videos.Video>('/videos', { body: { model: 'tiny-2', prompt: 'json body', duration: 1, width: 96, height: 160 } });
    expect(viaJson).toMatchObject({ status: live[0], size: '96x160', seconds: dialect === 'openai' ? '1' : '1.0' });
    expect((await pollUntilDone(openai, viaJson.id)).video.status).toBe('completed');
  });

  test('create with an uploaded input_reference (toFile) and with input_reference.image_url', async () => {
    const file = await toFile(PNG_16x16, 'reference.png', { type: 'image/png' });
    const uploaded = await openai.videos.create({ model: 'tiny-2', prompt: 'from an image', seconds: '4', input_reference: file });
    expect(uploaded.status).toBe(live[0]);
    const dataUrl = `data:image/png;base64,${PNG_16x16.toString('base64')}`;
    const byUrl = await openai.videos.create({ model: 'tiny-2', prompt: 'from an image URL', input_reference: { image_url: dataUrl } });
    for (const id of [uploaded.id, byUrl.id]) {
      const { video } = await pollUntilDone(openai, id);
      expect(video.status).toBe('completed');
      expect(isMp4(await download(openai, id, 'video'))).toBe(true);
    }
  });

  test('list pages with for await over several pages', async () => {
    const lister = client(stack, await stack.newKey());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await lister.post<OpenAI.Videos.Video>('/videos', { body: { model: 'tiny-2', prompt: `list ${i}`, seconds: '1' } })).id);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seen: string[] = [];
    for await (const v of lister.videos.list({ limit: 2 })) seen.push(v.id);
    expect(seen).toEqual([...ids].reverse());

    let page = await lister.videos.list({ limit: 2, order: 'asc' });
    const pages = [page.data.map((v) => v.id)];
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      pages.push(page.data.map((v) => v.id));
    }
    expect(pages).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
  });

  test('remix, delete, then retrieve is NotFoundError', async () => {
    const source = await openai.videos.create({ model: 'tiny-2', prompt: 'remix source', seconds: '4' });
    await pollUntilDone(openai, source.id);
    const remix = await openai.videos.remix(source.id, { prompt: 'remixed' });
    expect(remix).toMatchObject({ remixed_from_video_id: source.id, prompt: 'remixed', seconds: fourSeconds, size: '128x128' });
    expect((await pollUntilDone(openai, remix.id)).video.status).toBe('completed');

    const deleted = await openai.videos.delete(remix.id);
    expect(deleted).toEqual({ id: remix.id, object: 'video.deleted', deleted: true });
    await expect(openai.videos.retrieve(remix.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(openai.videos.delete(remix.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('a bad key is AuthenticationError; a bad seconds is BadRequestError naming it', async () => {
    await expect(client(stack, 'rly_wrong_key_000000000000000000000000').videos.list()).rejects.toBeInstanceOf(AuthenticationError);
    const err = await openai.videos.create({ model: 'tiny-2', prompt: 'x', seconds: '12' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).status).toBe(400);
    expect((err as BadRequestError).message).toContain('seconds must be one of 1, 4 seconds');
    expect((err as BadRequestError).param).toBe('seconds');
  });
}

describe('openai SDK against a seed-dialect deployment', () => sdkFlow('seed'));

describe('openai SDK against a deployment speaking OpenAI status words', () => {
  sdkFlow('openai');
});

describe('openai SDK with the real sora-2 defaults', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ REELAY_STATUS_DIALECT: 'openai' });
  });
  afterAll(async () => {
    await stack.close();
  });

  test('create({model: "sora-2"}) renders 4 s of 720x1280, reporting queued then in_progress then completed', async () => {
    const openai = client(stack, stack.key);
    const created = await openai.videos.create({ model: 'sora-2', prompt: 'a lighthouse at dusk' });
    expect(created).toMatchObject({ status: 'queued', seconds: '4', size: '720x1280', model: 'sora-2' });
    const { video, statuses } = await pollUntilDone(openai, created.id, 240_000);
    expect(video.status).toBe('completed');
    expect(statuses).toContain('in_progress');
    expect(statuses.every((s) => ['queued', 'in_progress', 'completed'].includes(s))).toBe(true);
    const mp4 = await download(openai, created.id, 'video');
    expect(probe(mp4)).toMatchObject({ width: 720, height: 1280, fps: 30, frames: 120, codec: 'h264' });
  });
});

import { signedContentUrl } from '@reelay/core';
import { http, isJpeg, isMp4, probe, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// Tiny renders: the point is how results are handed out, not the pixels.
const SMALL = { duration: 1, width: 128, height: 128, fps: 24 };

let stack: Stack;
/** A second API process on the same database and storage: shared signing secret, tiny b64 cap, trust proxy. */
let second: Stack;
let pair: any; // n = 2, response_format url
let single64: any; // n = 1, b64_json
let pair64: any; // n = 2, b64_json

async function createAndWait(body: Record<string, unknown>): Promise<any> {
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SMALL, ...body } });
  expect(res.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, res.body.id, 180_000);
  expect(video.status).toBe('completed');
  return video;
}

beforeAll(async () => {
  stack = await startStack();
  second = await startStack(
    { REELAY_STORAGE_DIR: stack.config.REELAY_STORAGE_DIR, REELAY_MAX_B64_BYTES: '1000', REELAY_TRUST_PROXY: 'true' },
    { worker: false },
  );
  [pair, single64, pair64] = await Promise.all([
    createAndWait({ prompt: 'two results', n: 2 }),
    createAndWait({ prompt: 'one inline result', response_format: 'b64_json' }),
    createAndWait({ prompt: 'two inline results', n: 2, response_format: 'b64_json' }),
  ]);
}, 300_000);

afterAll(async () => {
  await second?.close();
  await stack?.close();
});

const unauthenticated = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers }).then(async (r) => ({ status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) }));

const errorOf = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')).error;

describe('response_format url', () => {
  test('a completed video carries a signed url, and urls with one distinct link per index for n = 2', async () => {
    expect(typeof pair.url).toBe('string');
    expect(pair.urls).toHaveLength(2);
    expect(pair.urls[0]).toBe(pair.url);
    expect(pair.urls[1]).not.toBe(pair.urls[0]);
    expect(pair.url.startsWith(`${stack.url}/v1/videos/${pair.id}/content?`)).toBe(true);
    expect(pair.b64_json).toBeUndefined();
  });

  test('the links download the videos without the bearer header, the same bytes the authenticated route serves', async () => {
    const [a, b] = await Promise.all(pair.urls.map((u: string) => unauthenticated(u)));
    for (const r of [a!, b!]) {
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('video/mp4');
      expect(isMp4(r.bytes)).toBe(true);
      expect(probe(r.bytes)).toMatchObject({ width: 128, height: 128, fps: 24 });
    }
    expect(a!.bytes.equals(b!.bytes)).toBe(false);
    const authed = await http(stack, 'GET', `/v1/videos/${pair.id}/content?index=1`, { key: stack.key });
    expect(authed.bytes.equals(b!.bytes)).toBe(true);
  });

  test('a pending video has no url yet', async () => {
    const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SMALL, prompt: 'not yet' } });
    expect(res.body.status).toBe('pending');
    expect(res.body.url).toBeUndefined();
  });

  test.each([
    [
      'a changed signature',
      (u: URL) =>
        u.searchParams.set(
          'signature',
          u.searchParams.get('signature')!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
        ),
    ],
    ['a changed index', (u: URL) => u.searchParams.set('index', '1')],
    ['a later expiry', (u: URL) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))],
    ['a different variant', (u: URL) => u.searchParams.set('variant', 'thumbnail')],
    ['another video id', (u: URL) => (u.pathname = `/v1/videos/${single64.id}/content`)],
    ['a garbage signature', (u: URL) => u.searchParams.set('signature', '%%%')],
  ])('%s is 403 invalid_signature in the error shape', async (_name, tamper) => {
    const u = new URL(pair.url);
    tamper(u);
    const r = await unauthenticated(u.toString());
    expect(r.status).toBe(403);
    expect(errorOf(r.bytes)).toEqual({
      message: expect.stringMatching(/signature/i),
      code: 'invalid_signature',
      type: 'permission_error',
      param: 'signature',
    });
  });

  test('a link signed for the thumbnail or the spritesheet serves that variant', async () => {
    const expires = pair.expires_at;
    for (const variant of ['thumbnail', 'spritesheet'] as const) {
      const url = signedContentUrl(stack.url, stack.api.deps.signingSecret, { videoId: pair.id, variant, index: 1, expires });
      const r = await unauthenticated(url);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/jpeg');
      expect(isJpeg(r.bytes)).toBe(true);
    }
  });

  test('a correctly signed link past its expiry is 410 video_expired', async () => {
    const expires = Math.floor(Date.now() / 1000) - 5;
    const url = signedContentUrl(stack.url, stack.api.deps.signingSecret, { videoId: pair.id, variant: 'video', index: 0, expires });
    const r = await unauthenticated(url);
    expect(r.status).toBe(410);
    expect(errorOf(r.bytes).code).toBe('video_expired');
  });

  test('every API process signs with the same persisted secret, so a link from one works on another', async () => {
    expect(second.api.deps.signingSecret).toBe(stack.api.deps.signingSecret);
    const fromSecond = await http(second, 'GET', `/v1/videos/${pair.id}`, { key: stack.key });
    expect(fromSecond.body.url.startsWith(second.url)).toBe(true);
    const onFirst = fromSecond.body.url.replace(second.url, stack.url);
    expect((await unauthenticated(onFirst)).status).toBe(200);
  });

  test('the link host follows X-Forwarded-* only when the proxy is trusted', async () => {
    const headers = { 'x-forwarded-host': 'videos.example.test', 'x-forwarded-proto': 'https' };
    const trusted = await http(second, 'GET', `/v1/videos/${pair.id}`, { key: stack.key, headers });
    expect(trusted.body.url.startsWith(`https://videos.example.test/v1/videos/${pair.id}/content?`)).toBe(true);
    const untrusted = await http(stack, 'GET', `/v1/videos/${pair.id}`, { key: stack.key, headers });
    expect(untrusted.body.url.startsWith(`${stack.url}/`)).toBe(true);
  });
});

describe('response_format b64_json', () => {
  test('n = 1 carries the video as one base64 string, byte-identical to the content', async () => {
    expect(typeof single64.b64_json).toBe('string');
    expect(single64.url).toBeUndefined();
    const content = await http(stack, 'GET', `/v1/videos/${single64.id}/content`, { key: stack.key });
    expect(Buffer.from(single64.b64_json, 'base64').equals(content.bytes)).toBe(true);
  });

  test('n = 2 carries an array of two distinct videos', async () => {
    expect(pair64.b64_json).toHaveLength(2);
    const [a, b] = pair64.b64_json.map((s: string) => Buffer.from(s, 'base64'));
    expect(isMp4(a) && isMp4(b)).toBe(true);
    expect(a.equals(b)).toBe(false);
  });

  test('above REELAY_MAX_B64_BYTES the object says why and carries the signed url instead (never a 5xx)', async () => {
    const res = await http(second, 'GET', `/v1/videos/${pair64.id}`, { key: stack.key });
    expect(res.status).toBe(200);
    expect(res.body.b64_json).toBeNull();
    expect(res.body.b64_json_error).toEqual({ code: 'payload_too_large', message: expect.stringContaining('1000 bytes') });
    expect(res.body.urls).toHaveLength(2);
    const r = await unauthenticated(res.body.urls[1]);
    expect(r.status).toBe(200);
    expect(r.bytes.equals(Buffer.from(pair64.b64_json[1], 'base64'))).toBe(true);
  });
});

describe('GET /v1/videos/{id}/content', () => {
  let full: Buffer;
  let etag: string;
  const get = (headers: Record<string, string> = {}, query = '') => http(stack, 'GET', `/v1/videos/${pair.id}/content${query}`, { key: stack.key, headers });

  beforeAll(async () => {
    const res = await get();
    full = res.bytes;
    etag = res.headers.get('etag')!;
  });

  test('serves the MP4 with content-type, content-length, etag and accept-ranges', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(Number(res.headers.get('content-length'))).toBe(full.length);
    expect(full.length).toBeGreaterThan(1000);
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
  });

  test('Range: bytes=100-199 is 206 with exactly those bytes', async () => {
    const res = await get({ range: 'bytes=100-199' });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-199/${full.length}`);
    expect(res.headers.get('content-length')).toBe('100');
    expect(res.bytes.equals(full.subarray(100, 200))).toBe(true);
  });

  test('a suffix range returns the last bytes, an open-ended range runs to the end', async () => {
    const suffix = await get({ range: 'bytes=-50' });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get('content-range')).toBe(`bytes ${full.length - 50}-${full.length - 1}/${full.length}`);
    expect(suffix.bytes.equals(full.subarray(full.length - 50))).toBe(true);
    const open = await get({ range: 'bytes=1000-' });
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 1000-${full.length - 1}/${full.length}`);
    expect(open.bytes.equals(full.subarray(1000))).toBe(true);
  });

  test('an unsatisfiable range is 416 in the error shape', async () => {
    const res = await get({ range: `bytes=${full.length + 10}-` });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${full.length}`);
    expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param: 'range' });
    expect(res.body.error.message).toContain(String(full.length));
  });

  test('If-None-Match with the etag is 304 with no body', async () => {
    const res = await get({ 'if-none-match': etag });
    expect(res.status).toBe(304);
    expect(res.bytes.length).toBe(0);
  });

  test('variant=thumbnail and variant=spritesheet are JPEGs; index=1 is the second, different MP4', async () => {
    for (const variant of ['thumbnail', 'spritesheet']) {
      const res = await get({}, `?variant=${variant}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      expect(isJpeg(res.bytes)).toBe(true);
    }
    const second = await get({}, '?index=1');
    expect(second.status).toBe(200);
    expect(isMp4(second.bytes)).toBe(true);
    expect(second.bytes.equals(full)).toBe(false);
    const out = await get({}, '?index=2');
    expect(out.status).toBe(400);
    expect(out.body.error.param).toBe('index');
  });

  test('before completion it is 409 video_not_ready', async () => {
    const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SMALL, prompt: 'too early' } });
    const res = await http(stack, 'GET', `/v1/videos/${created.body.id}/content`, { key: stack.key });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('video_not_ready');
  });
});

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createStorage, type ObjectStorage } from '@reelay/storage';
import { capturingLogger, http, isJpeg, isMp4, S3TestServer, solidPng, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Reelay with REELAY_STORAGE=s3 against a real S3-compatible server (s3rver): results, thumbnails,
 * spritesheets and input images go to the bucket, content is served from it by streaming and by
 * redirect, and deletes and the expiry sweep remove the objects. The two APIs have separate
 * storage folders: nothing is shared but Postgres, Redis and the bucket.
 */
const TTL_SECONDS = 25;
// s3rver does not verify signatures, so any secret works: a distinctive one shows whether it is ever logged.
const SECRET = 'reelay-s3-secret-never-logged-0123456789';
const SMALL = { duration: 1, width: 128, height: 128, fps: 24 };

let s3: S3TestServer;
let streaming: Stack; // API + worker, REELAY_CONTENT_DELIVERY=stream
let redirecting: Stack; // a second API, REELAY_CONTENT_DELIVERY=redirect
let bucket: ObjectStorage;
const logs = capturingLogger('debug');

beforeAll(async () => {
  s3 = await S3TestServer.start();
  const env = { ...s3.env({ prefix: `e2e-${process.pid}` }), REELAY_S3_SECRET_ACCESS_KEY: SECRET };
  streaming = await startStack({ ...env, REELAY_RESULT_TTL_SECONDS: String(TTL_SECONDS), WORKER_EXPIRY_SWEEP_INTERVAL_MS: '500' }, { logger: logs.logger });
  redirecting = await startStack({ ...env, REELAY_CONTENT_DELIVERY: 'redirect' }, { worker: false, logger: logs.logger });
  bucket = createStorage(streaming.config);
}, 60_000);
afterAll(async () => {
  await redirecting?.close();
  await streaming?.close();
  await s3?.close();
});

const keysOf = async (prefix: string) => {
  const keys: string[] = [];
  for await (const o of bucket.list(prefix)) keys.push(o.key);
  return keys;
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function completed(body: Record<string, unknown>): Promise<any> {
  const res = await http(streaming, 'POST', '/v1/videos', { key: streaming.key, json: { ...SMALL, ...body } });
  expect(res.status).toBe(200);
  const { video } = await waitForVideo(streaming, streaming.key, res.body.id, 120_000);
  expect(video.status).toBe('completed');
  // Its images are stored just after it shows as completed; the content route holds a request for
  // one until it is there, as a client asking right after completion sees.
  for (const variant of ['thumbnail', 'spritesheet']) {
    expect((await http(streaming, 'GET', `/v1/videos/${video.id}/content?variant=${variant}`, { key: streaming.key })).status).toBe(200);
  }
  return video;
}

let video: any;
let bytes: Buffer;

test('a task completes with its video, thumbnail, spritesheet and input image in the bucket, none on local disk', async () => {
  video = await completed({ prompt: 'stored in a bucket', image: `data:image/png;base64,${solidPng('teal', 64, 64).toString('base64')}` });
  expect(await keysOf(`videos/${video.id}`)).toEqual([
    `videos/${video.id}/0/spritesheet.jpg`,
    `videos/${video.id}/0/thumbnail.jpg`,
    `videos/${video.id}/0/video.mp4`,
  ]);
  expect(await keysOf(`inputs/${video.id}`)).toEqual([`inputs/${video.id}/image.png`]);
  for (const stack of [streaming, redirecting]) {
    expect(existsSync(join(stack.config.REELAY_STORAGE_DIR, 'videos'))).toBe(false);
    expect(existsSync(join(stack.config.REELAY_STORAGE_DIR, 'inputs'))).toBe(false);
  }
}, 150_000);

test('streamed through the API: the whole video, a byte range, ETag and 304, a thumbnail, and the signed link', async () => {
  const full = await http(streaming, 'GET', `/v1/videos/${video.id}/content`, { key: streaming.key });
  expect(full.status).toBe(200);
  expect(isMp4(full.bytes)).toBe(true);
  bytes = full.bytes;
  expect(full.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
  expect(Number(full.headers.get('content-length'))).toBe(bytes.length);

  const part = await http(streaming, 'GET', `/v1/videos/${video.id}/content`, { key: streaming.key, headers: { range: 'bytes=100-299' } });
  expect(part.status).toBe(206);
  expect(part.headers.get('content-range')).toBe(`bytes 100-299/${bytes.length}`);
  expect(part.bytes.equals(bytes.subarray(100, 300))).toBe(true);
  const tail = await http(streaming, 'GET', `/v1/videos/${video.id}/content`, { key: streaming.key, headers: { range: 'bytes=-10' } });
  expect(tail.bytes.equals(bytes.subarray(-10))).toBe(true);
  const beyond = await http(streaming, 'GET', `/v1/videos/${video.id}/content`, { key: streaming.key, headers: { range: `bytes=${bytes.length + 5}-` } });
  expect(beyond.status).toBe(416);

  const again = await http(streaming, 'GET', `/v1/videos/${video.id}/content`, { key: streaming.key, headers: { 'if-none-match': full.headers.get('etag')! } });
  expect(again.status).toBe(304);
  const thumb = await http(streaming, 'GET', `/v1/videos/${video.id}/content?variant=thumbnail`, { key: streaming.key });
  expect(thumb.headers.get('content-type')).toBe('image/jpeg');
  expect(isJpeg(thumb.bytes)).toBe(true);
  const signed = await fetch(video.url);
  expect(signed.status).toBe(200);
  expect(Buffer.from(await signed.arrayBuffer()).equals(bytes)).toBe(true);
});

test('redirect delivery: 302 to a presigned URL that serves the same bytes and ranges; signed links and the openai SDK still work', async () => {
  const res = await fetch(`${redirecting.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${streaming.key}` }, redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = res.headers.get('location')!;
  expect(location.startsWith(`${s3.endpoint}/`)).toBe(true);
  expect(location).toContain('X-Amz-Signature=');
  expect(location).not.toContain(SECRET);

  // Followed (the client's Range header goes along), the bucket answers.
  const part = await fetch(`${redirecting.url}/v1/videos/${video.id}/content`, { headers: { authorization: `Bearer ${streaming.key}`, range: 'bytes=0-99' } });
  expect(part.status).toBe(206);
  expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(0, 100))).toBe(true);
  const thumb = await fetch(`${redirecting.url}/v1/videos/${video.id}/content?variant=thumbnail`, { headers: { authorization: `Bearer ${streaming.key}` } });
  expect(thumb.headers.get('content-type')).toBe('image/jpeg');

  // The signed link a client holds is unchanged: same URL, any API.
  const signed = await fetch(video.url.replace(streaming.url, redirecting.url));
  expect(signed.status).toBe(200);
  expect(signed.url.startsWith(s3.endpoint)).toBe(true);
  expect(Buffer.from(await signed.arrayBuffer()).equals(bytes)).toBe(true);

  // The SDK's fetch drops its Authorization header on the cross-origin hop (S3 refuses two authorisations).
  const openai = new OpenAI({ baseURL: `${redirecting.url}/v1`, apiKey: streaming.key, maxRetries: 0 });
  const sdk = await openai.videos.downloadContent(video.id);
  expect(Buffer.from(await sdk.arrayBuffer()).equals(bytes)).toBe(true);

  // Errors stay Reelay's own: another key's video is 404, a tampered link 403.
  const other = await fetch(`${redirecting.url}/v1/videos/${video.id}/content`, {
    headers: { authorization: `Bearer ${await redirecting.newKey()}` },
    redirect: 'manual',
  });
  expect(other.status).toBe(404);
  const tampered = await fetch(video.url.replace(streaming.url, redirecting.url).replace(/signature=[^&]+/, 'signature=00'), { redirect: 'manual' });
  expect(tampered.status).toBe(403);
});

test('b64_json reads the result from the bucket', async () => {
  const inline = await completed({ prompt: 'inline from a bucket', response_format: 'b64_json' });
  expect(isMp4(Buffer.from(inline.b64_json, 'base64'))).toBe(true);
}, 150_000);

test('a delete removes the objects from the bucket', async () => {
  const doomed = await completed({ prompt: 'deleted from a bucket' });
  expect((await keysOf(`videos/${doomed.id}`)).length).toBe(3);
  const del = await http(redirecting, 'DELETE', `/v1/videos/${doomed.id}`, { key: streaming.key });
  expect(del.status).toBe(200);
  expect(await keysOf(`videos/${doomed.id}`)).toEqual([]);
}, 150_000);

test('after expires_at the sweep removes the objects, and both delivery modes answer 410', async () => {
  await until(
    'the sweep to stamp the expired task',
    async () => (await streaming.db.task.findUniqueOrThrow({ where: { id: video.id } })).filesDeletedAt,
    (TTL_SECONDS + 60) * 1000,
    250,
  );
  expect(await keysOf(`videos/${video.id}`)).toEqual([]);
  expect(await keysOf(`inputs/${video.id}`)).toEqual([]);
  for (const stack of [streaming, redirecting]) {
    const res = await http(stack, 'GET', `/v1/videos/${video.id}/content`, { key: streaming.key });
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('video_expired');
  }
}, 120_000);

test('the S3 secret never reaches the logs', () => {
  expect(logs.lines.length).toBeGreaterThan(0);
  expect(logs.text()).not.toContain(SECRET);
});

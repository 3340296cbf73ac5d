import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { S3TestServer } from '@reelay/testing';
import { createStorage, LocalStorage, ObjectTooLargeError, type ObjectStorage } from './index';

/**
 * The contract every backend keeps, run over local disk and over a real S3-compatible server
 * (s3rver; see packages/testing/src/s3-server.ts for what it does not emulate).
 */
let s3: S3TestServer;
beforeAll(async () => (s3 = await S3TestServer.start()));
afterAll(() => s3.close());

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'reelay-storage-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Each run gets its own key prefix in the one bucket, so runs never see each other's objects. */
let run = 0;
const backends: Array<[string, () => ObjectStorage]> = [
  ['local disk', () => new LocalStorage(join(dir, 'store'))],
  ['S3', () => createStorage({ ...s3Settings(), REELAY_STORAGE_DIR: join(dir, 'store'), REELAY_S3_PREFIX: `run-${process.pid}-${++run}` })],
];
const s3Settings = () => {
  const env = s3.env();
  return {
    REELAY_STORAGE: 's3' as const,
    REELAY_S3_BUCKET: env.REELAY_S3_BUCKET,
    REELAY_S3_ENDPOINT: env.REELAY_S3_ENDPOINT,
    REELAY_S3_REGION: env.REELAY_S3_REGION!,
    REELAY_S3_ACCESS_KEY_ID: env.REELAY_S3_ACCESS_KEY_ID,
    REELAY_S3_SECRET_ACCESS_KEY: env.REELAY_S3_SECRET_ACCESS_KEY,
    REELAY_S3_FORCE_PATH_STYLE: true,
  };
};

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Deterministic bytes that differ at every offset, in chunks as a download would arrive. */
function bytesOf(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
const chunked = (b: Buffer, size = 64 * 1024) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
    })(),
  );
const keysOf = async (storage: ObjectStorage, prefix: string) => {
  const keys: string[] = [];
  for await (const o of storage.list(prefix)) keys.push(o.key);
  return keys;
};

describe.each(backends)('%s', (_name, make) => {
  let storage: ObjectStorage;
  beforeEach(() => (storage = make()));

  test('an object reads back whole and by byte range, with its size, checksum and modification time', async () => {
    const data = bytesOf(300_000);
    const stored = await storage.put('videos/a/0/video.mp4', chunked(data), undefined, { contentType: 'video/mp4' });
    expect(stored).toEqual({ key: 'videos/a/0/video.mp4', bytes: data.length, checksum: sha256(data) });
    expect(await storage.size('videos/a/0/video.mp4')).toBe(data.length);
    const info = await storage.stat('videos/a/0/video.mp4');
    expect(info).toMatchObject({ key: 'videos/a/0/video.mp4', bytes: data.length });
    expect(Math.abs(info!.modifiedAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect((await buffer(storage.read('videos/a/0/video.mp4'))).equals(data)).toBe(true);
    expect((await buffer(storage.read('videos/a/0/video.mp4', { start: 1000, end: 1999 }))).equals(data.subarray(1000, 2000))).toBe(true);
    expect((await buffer(storage.read('videos/a/0/video.mp4', { start: data.length - 1, end: data.length - 1 }))).equals(data.subarray(-1))).toBe(true);
  });

  test('an object larger than several upload parts streams in and reads back byte for byte', async () => {
    // 20 MB: more than two 8 MB parts on S3, so the multipart path (and its part order) is what is checked.
    const data = bytesOf(20 * 1024 * 1024, 7);
    const stored = await storage.put('videos/big/0/video.mp4', chunked(data, 1024 * 1024));
    expect(stored.bytes).toBe(data.length);
    expect(stored.checksum).toBe(sha256(data));
    expect(sha256(await buffer(storage.read('videos/big/0/video.mp4')))).toBe(sha256(data));
    const tail = await buffer(storage.read('videos/big/0/video.mp4', { start: 17 * 1024 * 1024, end: data.length - 1 }));
    expect(tail.equals(data.subarray(17 * 1024 * 1024))).toBe(true);
  }, 60_000);

  test('writing a key again replaces the object', async () => {
    await storage.put('videos/a/0/thumbnail.jpg', Readable.from([Buffer.from('first version')]));
    await storage.put('videos/a/0/thumbnail.jpg', Readable.from([Buffer.from('second')]));
    expect((await buffer(storage.read('videos/a/0/thumbnail.jpg'))).toString()).toBe('second');
    expect(await storage.size('videos/a/0/thumbnail.jpg')).toBe(6);
  });

  test('past maxBytes the write fails with ObjectTooLargeError and nothing is stored (also mid-way through a multipart upload)', async () => {
    await expect(storage.put('videos/a/0/video.mp4', chunked(bytesOf(1000)), 999)).rejects.toBeInstanceOf(ObjectTooLargeError);
    expect(await storage.size('videos/a/0/video.mp4')).toBeNull();
    await expect(storage.put('videos/b/0/video.mp4', chunked(bytesOf(18 * 1024 * 1024), 1024 * 1024), 17 * 1024 * 1024)).rejects.toBeInstanceOf(
      ObjectTooLargeError,
    );
    expect(await storage.size('videos/b/0/video.mp4')).toBeNull();
    expect(await keysOf(storage, '')).toEqual([]);
  }, 60_000);

  test('a source that fails (a vanished file, a broken download) rejects put and leaves nothing under the key', async () => {
    // The open error fires on a later tick, typically while put() is still preparing.
    await expect(storage.put('videos/x/0/video.mp4', createReadStream(join(dir, 'missing.mp4')))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.size('videos/x/0/video.mp4')).toBeNull();
    const broken = Readable.from(
      (async function* () {
        yield bytesOf(9 * 1024 * 1024);
        throw new Error('connection reset by upstream');
      })(),
    );
    await expect(storage.put('videos/y/0/video.mp4', broken)).rejects.toThrow('connection reset by upstream');
    expect(await storage.size('videos/y/0/video.mp4')).toBeNull();
  }, 60_000);

  test('reading a key that is not stored errors on the stream (ENOENT)', async () => {
    await expect(buffer(storage.read('videos/none/0/video.mp4'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.stat('videos/none/0/video.mp4')).toBeNull();
  });

  test('list and remove take a key or a folder of keys, and never touch a sibling whose name merely starts the same', async () => {
    for (const key of ['videos/a/0/video.mp4', 'videos/a/0/thumbnail.jpg', 'videos/a/1/video.mp4', 'videos/ab/0/video.mp4', 'inputs/a/image.png']) {
      await storage.put(key, Readable.from([Buffer.from(key)]));
    }
    expect(await keysOf(storage, 'videos/a')).toEqual(['videos/a/0/thumbnail.jpg', 'videos/a/0/video.mp4', 'videos/a/1/video.mp4']);
    expect(await keysOf(storage, 'inputs/a/image.png')).toEqual(['inputs/a/image.png']);
    expect((await keysOf(storage, '')).length).toBe(5);
    await storage.remove('videos/a/1/video.mp4');
    expect(await storage.size('videos/a/1/video.mp4')).toBeNull();
    await storage.remove('videos/a');
    await storage.remove('videos/a'); // already gone: a no-op
    expect(await keysOf(storage, '')).toEqual(['inputs/a/image.png', 'videos/ab/0/video.mp4']);
  });

  test('a key that would leave the store is refused', async () => {
    await expect(storage.put('../outside.mp4', Readable.from([Buffer.from('x')]))).rejects.toThrow('escapes the root');
  });

  test('localCopy leaves the same bytes in a local file for tools that need one; withLocalFile lends one for reading', async () => {
    const data = bytesOf(100_000, 3);
    const scratch = await storage.scratchDir('finalize');
    const copy = join(scratch, 'video.mp4');
    await storage.put('videos/c/0/video.mp4', chunked(data), undefined, { localCopy: copy });
    expect(readFileSync(copy).equals(data)).toBe(true);
    rmSync(scratch, { recursive: true });
    expect(await storage.size('videos/c/0/video.mp4')).toBe(data.length); // removing the copy keeps the object
    const seen = await storage.withLocalFile('videos/c/0/video.mp4', async (path) => readFileSync(path));
    expect(seen.equals(data)).toBe(true);
  });

  test('writes in progress and scratch folders live in .tmp/, and the sweep reclaims only old ones', async () => {
    const root = join(dir, 'store');
    await storage.put('videos/a/0/video.mp4', Readable.from([Buffer.from('bytes')]));
    const fresh = await storage.scratchDir('finalize');
    // What a process killed mid-write leaves: a temp file, an hour old.
    const stale = join(root, '.tmp', '4242-1-abc.tmp');
    writeFileSync(stale, 'half an object');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(stale, hourAgo, hourAgo);
    if (storage.kind === 'local') expect(readdirSync(join(root, 'videos/a/0'))).toEqual(['video.mp4']); // nothing beside the object
    expect(await storage.sweepTemp(600_000)).toBe(1);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(await storage.size('videos/a/0/video.mp4')).toBe(5);
    expect(await keysOf(storage, '')).toEqual(['videos/a/0/video.mp4']); // scratch space is not an object
  });
});

describe('S3 only', () => {
  test('a presigned URL serves the object (Range, its content type) without credentials, and is refused once expired', async () => {
    const storage = backends[1]![1]();
    const data = bytesOf(50_000, 5);
    await storage.put('videos/p/0/video.mp4', chunked(data), undefined, { contentType: 'video/mp4' });
    const url = await storage.presignedUrl('videos/p/0/video.mp4', { expiresInSeconds: 1, contentType: 'video/mp4' });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const part = await fetch(url!, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(url!)).status).toBe(403);
  });

  test('REELAY_S3_PREFIX keeps deployments apart in one bucket', async () => {
    const a = backends[1]![1]();
    const b = backends[1]![1]();
    await a.put('videos/a/0/video.mp4', Readable.from([Buffer.from('deployment a')]));
    expect(await b.size('videos/a/0/video.mp4')).toBeNull();
    expect(await keysOf(b, '')).toEqual([]);
    await b.remove('videos');
    expect(await a.size('videos/a/0/video.mp4')).toBe(12);
  });

  test('local disk has no presigned URL', async () => {
    expect(await new LocalStorage(dir).presignedUrl()).toBeNull();
  });
});

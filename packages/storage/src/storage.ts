import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  checksum: string; // sha256 hex
}

export interface ObjectInfo {
  key: string;
  bytes: number;
  modifiedAt: Date;
}

export interface PutOptions {
  /** Stored with the object, and what a presigned link serves it as. */
  contentType?: string;
  /** Also leave the bytes in this local file (the caller removes it), for tools that need a file, e.g. ffmpeg. */
  localCopy?: string;
}

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

export class ObjectTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`object is larger than ${limit} bytes`);
  }
}

/**
 * Where Reelay keeps objects by key ("videos/<task>/0/video.mp4"): a local folder or an S3
 * bucket. Writes land whole or not at all; a reader never sees half an object. Keys are
 * slash-separated; `remove` and `list` take a prefix that names a key or a folder of keys.
 */
export interface ObjectStorage {
  readonly kind: 'local' | 's3';
  /** Streams `source` into `key`, hashing as it goes; fails with ObjectTooLargeError past `maxBytes`. */
  put(key: string, source: Readable, maxBytes?: number, options?: PutOptions): Promise<StoredObject>;
  putFile(key: string, localPath: string, options?: PutOptions): Promise<StoredObject>;
  /** Size in bytes, or null when no such object is stored. */
  size(key: string): Promise<number | null>;
  stat(key: string): Promise<ObjectInfo | null>;
  /** The object's bytes (a range of them, end inclusive); a missing key errors on the stream. */
  read(key: string, range?: ByteRange): Readable;
  /** Removes a key or every key under `prefix/`; a no-op for what is already gone. */
  remove(prefix: string): Promise<void>;
  /** Every object at or under `prefix/` ("" for all), in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * A URL that serves the object without Reelay for `expiresInSeconds` (a presigned GET), or
   * null when the backend has none (local disk).
   */
  presignedUrl(key: string, options: { expiresInSeconds: number; contentType?: string; cacheControl?: string }): Promise<string | null>;
  /** The object's own file when the backend keeps it on this machine's disk (local), else null. */
  localPathOf(key: string): string | null;
  /** Runs `use` with a local file holding the object (the object itself on local disk, a download otherwise). */
  withLocalFile<T>(key: string, use: (path: string) => Promise<T>): Promise<T>;
  /** A fresh local scratch folder; the caller removes it when done. */
  scratchDir(label: string): Promise<string>;
  /** Removes temp files and scratch folders older than `maxAgeMs` (left by killed processes); returns how many. */
  sweepTemp(maxAgeMs: number, now?: number): Promise<number>;
}

/** What every backend derives from its own put and stat. */
export abstract class StorageBase {
  abstract put(key: string, source: Readable, maxBytes?: number, options?: PutOptions): Promise<StoredObject>;
  abstract stat(key: string): Promise<ObjectInfo | null>;

  putFile(key: string, localPath: string, options?: PutOptions): Promise<StoredObject> {
    return this.put(key, createReadStream(localPath), undefined, options);
  }

  async size(key: string): Promise<number | null> {
    return (await this.stat(key))?.bytes ?? null;
  }
}

/** Counts and hashes what passes, and stops the stream past `maxBytes`. */
export function meter(maxBytes: number): { stream: Transform; result(key: string): StoredObject } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (bytes > maxBytes) return cb(new ObjectTooLargeError(maxBytes));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  return { stream, result: (key) => ({ key, bytes, checksum: hash.digest('hex') }) };
}

/**
 * Passes bytes through while writing them to `path` too, at the pace of the slower side, so a
 * download can go to the store and to a local file in one pass.
 */
export function teeToFile(path: string): Transform {
  const file = createWriteStream(path);
  let failed: Error | null = null;
  file.on('error', (err) => (failed = err));
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (failed) return cb(failed);
      if (file.write(chunk)) return cb(null, chunk);
      file.once('drain', () => cb(failed, chunk));
    },
    flush(cb) {
      file.end(() => cb(failed));
    },
    destroy(err, cb) {
      file.destroy();
      cb(err);
    },
  });
}

/** Folder under a local root for writes in progress and scratch space; the sweep reclaims what killed processes leave. */
export const TEMP_DIR = '.tmp';

/** The local `.tmp/` area every backend keeps for scratch work (on an S3 node: REELAY_STORAGE_DIR). */
export class ScratchArea {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, TEMP_DIR);
  }

  async tempPath(): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    return join(this.dir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
  }

  async scratchDir(label: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    return mkdtemp(join(this.dir, `${label}-`));
  }

  async sweep(maxAgeMs: number, now = Date.now()): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      const info = await stat(path).catch(() => null);
      if (!info || now - info.mtimeMs < maxAgeMs) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}

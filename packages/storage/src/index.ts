import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredObject {
  key: string;
  bytes: number;
  checksum: string; // sha256 hex
}

export class ObjectTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`object is larger than ${limit} bytes`);
  }
}

/** Folder under the root for writes in progress and scratch space; a sweep reclaims what killed processes leave. */
const TEMP_DIR = '.tmp';

/**
 * Result storage on local disk. Writes go to a temporary file in `.tmp/` and are renamed into
 * place, so a reader never sees half an object, a crashed write leaves nothing under the real key,
 * and what a killed process left behind sits in one folder for sweepTemp to reclaim.
 */
export class LocalStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  pathOf(key: string): string {
    const full = resolve(this.root, key);
    if (!full.startsWith(this.root + sep)) throw new Error(`storage key escapes the root: ${key}`);
    return full;
  }

  /** Streams `source` into `key`, hashing as it goes; stops at `maxBytes`. */
  async put(key: string, source: Readable, maxBytes = Number.MAX_SAFE_INTEGER): Promise<StoredObject> {
    // An error the source emits before the pipeline below is attached (e.g. a missing file) would
    // otherwise be unhandled and end the process; the pipeline still rejects with it.
    source.on('error', () => undefined);
    const target = this.pathOf(key);
    // The source may fail (a file that vanished) while mkdir runs, before pipeline listens: keep
    // that from being an unhandled 'error' event; pipeline still rejects with it.
    source.on('error', () => undefined);
    await mkdir(dirname(target), { recursive: true });
    await mkdir(join(this.root, TEMP_DIR), { recursive: true });
    const tmp = join(this.root, TEMP_DIR, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > maxBytes) return cb(new ObjectTooLargeError(maxBytes));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { key, bytes, checksum: hash.digest('hex') };
  }

  async putFile(key: string, localPath: string): Promise<StoredObject> {
    return this.put(key, createReadStream(localPath));
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(key))).size;
    } catch {
      return null;
    }
  }

  read(key: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(key), range);
  }

  /**
   * Removes a key or a whole folder of keys. A writer adding files to the folder meanwhile (a
   * finalize that lost to a delete) makes rmdir fail with ENOTEMPTY; Node retries those.
   */
  async remove(prefix: string): Promise<void> {
    await rm(this.pathOf(prefix), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }

  /** A fresh scratch folder (same filesystem as the store); the caller removes it when done. */
  async scratchDir(label: string): Promise<string> {
    await mkdir(join(this.root, TEMP_DIR), { recursive: true });
    return mkdtemp(join(this.root, TEMP_DIR, `${label}-`));
  }

  /** Removes temp files and scratch folders older than `maxAgeMs` (left by killed processes); returns how many. */
  async sweepTemp(maxAgeMs: number, now = Date.now()): Promise<number> {
    const dir = join(this.root, TEMP_DIR);
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const path = join(dir, name);
      const info = await stat(path).catch(() => null);
      if (!info || now - info.mtimeMs < maxAgeMs) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  join(...parts: string[]): string {
    return join(...parts);
  }
}
export * from './layout';

import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { meter, ScratchArea, StorageBase, teeToFile, type ByteRange, type ObjectInfo, type ObjectStorage, type PutOptions, type StoredObject } from './storage';

export interface S3Settings {
  bucket: string;
  /** An S3-compatible server's URL; unset: AWS's endpoint for the region. */
  endpoint?: string;
  region: string;
  /** Both or neither: unset, the SDK's default chain (environment, instance or pod role) is used. */
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Put before every key ("reelay/" → "reelay/videos/…"), so one bucket can hold several deployments. */
  prefix?: string;
  /** A local folder for scratch work (ffmpeg's files, downloads for tools that need a file). */
  scratchRoot: string;
}

/** Multipart part size: what an upload holds in memory per part in flight (two in flight). */
const PART_BYTES = 8 * 1024 * 1024;

/**
 * Object storage in an S3 bucket (AWS or any S3-compatible server). Uploads are multipart and
 * streamed from the source, at most two parts in memory, so a video never sits in memory whole;
 * a failed upload is aborted, so a reader never sees half an object under its key.
 */
export class S3Storage extends StorageBase implements ObjectStorage {
  readonly kind = 's3';
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly scratch: ScratchArea;

  constructor(settings: S3Settings) {
    super();
    this.bucket = settings.bucket;
    this.prefix = settings.prefix ? settings.prefix.replace(/^\/+|\/+$/g, '') + '/' : '';
    this.scratch = new ScratchArea(resolve(settings.scratchRoot));
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials:
        settings.accessKeyId && settings.secretAccessKey ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } : undefined,
      // Integrity is Reelay's own sha256; checksums beyond what S3 requires are left off, since
      // several S3-compatible servers reject the SDK's default CRC headers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectKey(key: string): string {
    if (key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.')) throw new Error(`storage key escapes the root: ${key}`);
    return this.prefix + key;
  }

  async put(key: string, source: Readable, maxBytes = Number.MAX_SAFE_INTEGER, options: PutOptions = {}): Promise<StoredObject> {
    source.on('error', () => undefined); // pipeline below reports it
    const metered = meter(maxBytes);
    const body = new PassThrough();
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: body, ContentType: options.contentType },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const stages = options.localCopy ? [metered.stream, teeToFile(options.localCopy)] : [metered.stream];
    const flowing = pipeline([source, ...stages, body]);
    const uploaded = upload.done().catch((err: unknown) => {
      // The bucket refused: stop reading the source too.
      body.destroy(err as Error);
      throw err;
    });
    const [copied, stored] = await Promise.allSettled([flowing, uploaded]);
    if (copied.status === 'rejected' || stored.status === 'rejected') {
      if (options.localCopy) await rm(options.localCopy, { force: true });
      // The source's own failure (too large, a broken download) says more than the upload's echo of it.
      const sourceError = copied.status === 'rejected' && (copied.reason as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE' ? copied.reason : null;
      throw sourceError ?? (stored.status === 'rejected' ? stored.reason : (copied as PromiseRejectedResult).reason);
    }
    return metered.result(key);
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, bytes: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  read(key: string, range?: ByteRange): Readable {
    const out = new PassThrough();
    const request = new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined });
    this.client.send(request).then(
      (res) => pipeline(res.Body as Readable, out).catch((err: Error) => out.destroy(err)),
      (err: unknown) => out.destroy(isNotFound(err) ? Object.assign(new Error(`no object stored under ${key}`), { code: 'ENOENT' }) : (err as Error)),
    );
    return out;
  }

  async remove(prefix: string): Promise<void> {
    const exact = this.objectKey(prefix);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: exact }));
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const res = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      if (res.Errors?.length) throw new Error(`could not delete ${res.Errors.length} objects under ${prefix}: ${res.Errors[0]!.Code ?? 'error'}`);
      batch = [];
    };
    for await (const key of this.keysUnder(exact + '/')) {
      batch.push(key);
      if (batch.length === 1000) await flush();
    }
    await flush();
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const exact = prefix === '' ? '' : this.objectKey(prefix);
    for await (const o of this.objectsUnder(exact)) {
      const key = o.Key!.slice(this.prefix.length);
      if (prefix === '' || key === prefix || key.startsWith(prefix + '/')) yield { key, bytes: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
    }
  }

  async presignedUrl(key: string, options: { expiresInSeconds: number; contentType?: string; cacheControl?: string }): Promise<string | null> {
    const request = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ResponseContentType: options.contentType,
      ResponseCacheControl: options.cacheControl,
    });
    return getSignedUrl(this.client, request, { expiresIn: Math.max(1, Math.floor(options.expiresInSeconds)) });
  }

  localPathOf(): null {
    return null;
  }

  async withLocalFile<T>(key: string, use: (path: string) => Promise<T>): Promise<T> {
    const dir = await this.scratch.scratchDir('object');
    try {
      const file = join(dir, key.split('/').pop() || 'object');
      await pipeline(this.read(key), createWriteStream(file));
      return await use(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async scratchDir(label: string): Promise<string> {
    return this.scratch.scratchDir(label);
  }

  async sweepTemp(maxAgeMs: number, now = Date.now()): Promise<number> {
    return this.scratch.sweep(maxAgeMs, now);
  }

  private async *keysUnder(objectPrefix: string): AsyncIterable<string> {
    for await (const o of this.objectsUnder(objectPrefix)) yield o.Key!;
  }

  private async *objectsUnder(objectPrefix: string) {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: objectPrefix || this.prefix || undefined, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) yield o;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey' : false;
}

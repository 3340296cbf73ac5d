import busboy from 'busboy';
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { ApiError, invalidParameter, newFileId } from '@reelay/core';
import { FILE_PURPOSES, findFileByIdempotencyKey, insertFile, isFileIdempotencyRace, type FilePurpose, type StoredFile } from '@reelay/db';
import { fileKeys, ObjectTooLargeError } from '@reelay/storage';
import type { ApiDeps } from '../deps';
import { idempotencyConflict, idempotencyKeyOf } from './idempotency';

const multipartError = (message: string, param: string | null = null): ApiError =>
  new ApiError(400, 'invalid_parameter', `Invalid multipart body: ${message}`, param);
const tooLarge = (max: number): ApiError => new ApiError(413, 'payload_too_large', `Uploaded file exceeds the limit of ${max} bytes`, 'file');

interface Received {
  purpose: string | undefined;
  filename: string;
  stored: { bytes: number; checksum: string } | null;
}

/**
 * Reads POST /v1/files: multipart `file` (streamed straight into storage under the new file's key,
 * hashed on the way, stopped at REELAY_MAX_FILE_BYTES) and `purpose`, in either order. Anything
 * refused leaves no stored object behind.
 */
async function receive(deps: ApiDeps, req: Request, id: string): Promise<Received> {
  const max = deps.config.REELAY_MAX_FILE_BYTES;
  const type = (req.header('content-type') ?? '').toLowerCase();
  if (!type.startsWith('multipart/form-data')) {
    throw new ApiError(415, 'unsupported_media_type', `Unsupported Content-Type "${type || '(none)'}": send multipart/form-data with file and purpose`);
  }
  // Multipart framing adds a little; a body declared far above the cap is refused unread.
  if (Number(req.header('content-length') ?? 0) > max + 64 * 1024) throw tooLarge(max);
  return new Promise<Received>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 1, fields: 10, parts: 11, fieldSize: 1024, fieldNameSize: 100 } });
    } catch (err) {
      return reject(multipartError((err as Error).message));
    }
    const got: Received = { purpose: undefined, filename: 'file', stored: null };
    let failed = false;
    let upload: Promise<void> | null = null;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      void deps.storage.remove(fileKeys.content(id)).catch(() => undefined);
      reject(err);
    };
    bb.on('field', (name, value) => {
      if (name === 'purpose') got.purpose = value;
      else if (name !== 'expires_after[anchor]' && name !== 'expires_after[seconds]')
        fail(invalidParameter(name || '(unnamed)', 'is not a parameter of this endpoint'));
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || failed) {
        stream.resume();
        return fail(invalidParameter(name || '(unnamed)', 'is not a file field (send the file as file)'));
      }
      got.filename = (info.filename || 'file').slice(0, 255);
      upload = deps.storage.put(fileKeys.content(id), stream, max).then(
        (s) => {
          got.stored = s;
        },
        (err: unknown) => {
          stream.resume();
          fail(err instanceof ObjectTooLargeError ? tooLarge(max) : multipartError((err as Error).message, 'file'));
        },
      );
    });
    bb.on('filesLimit', () => fail(invalidParameter('file', 'must be a single file')));
    bb.on('fieldsLimit', () => fail(multipartError('too many fields')));
    bb.on('partsLimit', () => fail(multipartError('too many parts')));
    bb.on('error', (err: Error) => fail(multipartError(err.message)));
    bb.on('close', () => {
      void Promise.resolve(upload).then(() => {
        if (!failed) resolve(got);
      });
    });
    req.on('aborted', () => fail(multipartError('the body was not received in full')));
    req.pipe(bb);
  });
}

/**
 * POST /v1/files. With an Idempotency-Key, a retry of the same upload (same purpose, filename and
 * bytes) answers with the file made first; the same key with other content is a 409.
 */
export async function uploadFile(deps: ApiDeps, req: Request): Promise<{ file: StoredFile; replayed: boolean }> {
  const idemKey = idempotencyKeyOf(req);
  const id = newFileId();
  const got = await receive(deps, req, id);
  const discard = () => deps.storage.remove(fileKeys.content(id)).catch(() => undefined);
  if (!got.stored) {
    await discard();
    throw invalidParameter('file', 'is required');
  }
  if (!got.purpose || !FILE_PURPOSES.includes(got.purpose as FilePurpose)) {
    await discard();
    throw invalidParameter('purpose', `must be one of ${FILE_PURPOSES.join(', ')}`);
  }
  if (got.purpose === 'batch_output') {
    await discard();
    throw invalidParameter('purpose', 'batch_output files are written by batches, not uploaded');
  }
  const requestHash = createHash('sha256').update(`${got.purpose}\n${got.filename}\n${got.stored.checksum}`).digest('hex');
  const earlier = async (): Promise<StoredFile | null> => {
    if (idemKey === undefined) return null;
    const file = await findFileByIdempotencyKey(deps.db, req.apiKey.id, idemKey);
    if (file && (file.requestHash !== requestHash || file.deletedAt))
      throw idempotencyConflict('a different upload (or for a file since deleted); use a new key');
    return file;
  };
  try {
    const before = await earlier();
    if (before) {
      await discard();
      return { file: before, replayed: true };
    }
    const file = await insertFile(deps.db, {
      id,
      apiKeyId: req.apiKey.id,
      filename: got.filename,
      purpose: got.purpose as FilePurpose,
      bytes: got.stored.bytes,
      checksum: got.stored.checksum,
      storageKey: fileKeys.content(id),
      idempotencyKey: idemKey ?? null,
      requestHash: idemKey === undefined ? null : requestHash,
    });
    return { file, replayed: false };
  } catch (err) {
    await discard();
    if (idemKey !== undefined && isFileIdempotencyRace(err)) {
      const winner = await earlier();
      if (winner) return { file: winner, replayed: true };
    }
    throw err;
  }
}

/** OpenAI's file object. */
export function presentFile(f: StoredFile): Record<string, unknown> {
  return {
    id: f.id,
    object: 'file',
    bytes: Number(f.bytes),
    created_at: Math.floor(f.createdAt.getTime() / 1000),
    expires_at: f.expiresAt ? Math.floor(f.expiresAt.getTime() / 1000) : null,
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    status_details: null,
  };
}

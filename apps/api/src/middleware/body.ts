import busboy from 'busboy';
import express, { type NextFunction, type Request, type Response } from 'express';
import qs from 'qs';
import { ApiError, assertSafeInput, invalidParameter, MAX_INPUT_DEPTH } from '@reelay/core';
import { duplicateTopLevelKey } from './json-keys';

/** Fields a create takes a file in; edits, extensions and characters take `video` instead. */
const IMAGE_FILE_FIELDS = ['input_reference', 'image'] as const;
/** Bracket notation is rebuilt to this depth (`metadata[a][b]`); larger array indexes become object keys. */
const FORM_DEPTH = 4;
const FORM_ARRAY_LIMIT = 100;
export interface ParsedCreateBody {
  body: unknown;
  upload: { buffer: Buffer; field: string } | null;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      createBody?: ParsedCreateBody;
      rawJson?: Buffer;
    }
  }
}

/**
 * JSON bodies are UTF-8 (RFC 8259 §8.1). Any other declared charset is a 415 before the body is
 * read, so no scan ever sees bytes in an encoding it does not expect.
 */
function assertUtf8(req: Request): void {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.header('content-type') ?? '');
  const charset = match?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new ApiError(415, 'unsupported_media_type', `Unsupported charset "${charset}": send JSON as UTF-8`);
  }
}

/**
 * Runs an express.json parser after the charset check, then `then` with the parsed body; any
 * error, from either, goes to `next`.
 */
function readJson(parser: ReturnType<typeof express.json>, req: Request, res: Response, next: NextFunction, then: (body: unknown) => void): void {
  try {
    assertUtf8(req);
  } catch (err) {
    return next(err);
  }
  parser(req, res, (err?: unknown) => {
    if (err) return next(err);
    try {
      then(req.body);
    } catch (e) {
      next(e);
    }
  });
}

/** express.json for the small JSON bodies of other routes, with the same charset and input checks. */
export function jsonBody(limit: string | number) {
  const json = express.json({ limit, strict: false, type: () => true });
  return (req: Request, res: Response, next: NextFunction): void =>
    readJson(json, req, res, next, (body) => {
      assertSafeInput(body);
      next();
    });
}

/** JSON or multipart/form-data, nothing else; limits come from config and are named in errors. */
export interface BodyLimits {
  maxBodyBytes: number;
  maxImageBytes: number;
  /**
   * Set for routes whose file is a source video (edits, extensions, characters): the only file
   * field is then `video`, capped at this many bytes. Absent: image files of a create.
   */
  maxVideoBytes?: number;
}

const fileFieldsOf = (limits: BodyLimits): readonly string[] => (limits.maxVideoBytes !== undefined ? ['video'] : IMAGE_FILE_FIELDS);
const fileCap = (limits: BodyLimits): number => limits.maxVideoBytes ?? limits.maxImageBytes;

export function createBodyParser(limits: BodyLimits) {
  const json = express.json({
    limit: limits.maxBodyBytes,
    strict: false,
    type: () => true,
    verify: (req, _res, buf) => {
      (req as Request).rawJson = buf;
    },
  });

  return (req: Request, res: Response, next: NextFunction): void => {
    const type = (req.header('content-type') ?? '').toLowerCase();
    const length = Number(req.header('content-length') ?? 0);
    if (length > limits.maxBodyBytes) {
      return next(new ApiError(413, 'payload_too_large', `Request body exceeds the limit of ${limits.maxBodyBytes} bytes`));
    }
    if (type.startsWith('application/json') || (type === '' && length === 0)) {
      readJson(json, req, res, next, (parsed) => {
        // An empty body is an empty object; a JSON null is a body of the wrong kind.
        const body: unknown = parsed === undefined ? {} : parsed;
        const repeated = isPlainObject(body) && req.rawJson ? duplicateTopLevelKey(req.rawJson.toString('utf8')) : null;
        req.rawJson = undefined;
        if (repeated !== null) throw invalidParameter(repeated, 'is sent more than once');
        assertSafeInput(body);
        req.createBody = { body, upload: null };
        next();
      });
      return;
    }
    if (type.startsWith('multipart/form-data')) {
      readMultipart(req, limits)
        .then((parsed) => {
          req.createBody = parsed;
          next();
        })
        .catch(next);
      return;
    }
    next(new ApiError(415, 'unsupported_media_type', `Unsupported Content-Type "${type || '(none)'}": send application/json or multipart/form-data`));
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const multipartError = (message: string, param: string | null = null): ApiError =>
  new ApiError(400, 'invalid_parameter', `Invalid multipart body: ${message}`, param);

/** The top-level field a bracketed form name belongs to: `metadata[style]` → `metadata`. */
const topField = (name: string): string => name.split('[', 1)[0]!;

/**
 * Reads a multipart body with busboy (counts of parts, fields and bytes capped), then rebuilds the
 * bracket notation the openai SDK sends (`metadata[style]`, `input_reference[image_url]`, `key[]`)
 * with qs, whose depth and array-index limits keep a tiny body from making a huge or deep object.
 */
function readMultipart(req: Request, limits: BodyLimits): Promise<ParsedCreateBody> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        // busboy reports `limit` on reaching fileSize, so one byte more lets a file of exactly the cap through.
        limits: { fileSize: fileCap(limits) + 1, files: 1, fields: 100, fieldSize: limits.maxBodyBytes, parts: 101, fieldNameSize: 200 },
      });
    } catch (err) {
      return reject(multipartError((err as Error).message));
    }
    const fields = new Map<string, string | string[]>();
    let upload: ParsedCreateBody['upload'] = null;
    let failed = false;
    let seen = 0;
    let pendingFile: Promise<void> | null = null;

    const fail = (err: ApiError): void => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume(); // drain the rest so the client reads the answer
      reject(err);
    };

    bb.on('field', (name, value, info) => {
      if (failed) return;
      if (!name) return fail(multipartError('a part has no field name'));
      if (info.nameTruncated) return fail(multipartError(`a field name is longer than 200 characters`, topField(name)));
      if (info.valueTruncated)
        return fail(new ApiError(413, 'payload_too_large', `Request body exceeds the limit of ${limits.maxBodyBytes} bytes`, topField(name)));
      const earlier = fields.get(name);
      if (earlier === undefined) fields.set(name, name.endsWith('[]') ? [value] : value);
      else if (Array.isArray(earlier)) earlier.push(value);
      else fail(invalidParameter(topField(name), 'is sent more than once'));
    });
    bb.on('file', (name, stream) => {
      if (failed || !name) {
        stream.resume();
        if (!name) fail(multipartError('a part has no field name'));
        return;
      }
      if (!fileFieldsOf(limits).includes(name)) {
        stream.resume();
        const hint = limits.maxVideoBytes !== undefined ? 'send the MP4 as video' : 'send the image as input_reference';
        return fail(invalidParameter(topField(name), `is not a file field (${hint})`));
      }
      const chunks: Buffer[] = [];
      pendingFile = new Promise<void>((done) => {
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('limit', () => fail(new ApiError(413, 'payload_too_large', `Uploaded file ${name} exceeds the limit of ${fileCap(limits)} bytes`, name)));
        // A body cut off inside the file errors the file's stream too: unhandled, that would end the process.
        stream.on('error', (err: Error) => {
          fail(multipartError(err.message, name));
          done();
        });
        stream.on('end', () => {
          upload = { buffer: Buffer.concat(chunks), field: name };
          done();
        });
      });
    });
    bb.on('filesLimit', () =>
      fail(
        limits.maxVideoBytes !== undefined
          ? invalidParameter('video', 'must be a single file; send one MP4')
          : invalidParameter('input_reference', 'must be a single file; send one image'),
      ),
    );
    bb.on('fieldsLimit', () => fail(multipartError('more than 100 fields')));
    bb.on('partsLimit', () => fail(multipartError('more than 101 parts')));
    bb.on('error', (err: Error) => fail(multipartError(err.message)));
    bb.on('close', () => {
      if (failed) return;
      void Promise.resolve(pendingFile).then(() => {
        if (failed) return;
        try {
          resolve({ body: buildForm(fields, upload), upload });
        } catch (err) {
          fail(err instanceof ApiError ? err : multipartError((err as Error).message));
        }
      });
    });
    // A chunked body (no content-length to check up front) that passes the cap is stopped with a 413.
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limits.maxBodyBytes) fail(new ApiError(413, 'payload_too_large', `Request body exceeds the limit of ${limits.maxBodyBytes} bytes`));
    });
    req.on('aborted', () => fail(multipartError('the body was not received in full')));
    req.pipe(bb);
  });
}

function buildForm(fields: Map<string, string | string[]>, upload: ParsedCreateBody['upload']): Record<string, unknown> {
  for (const name of fields.keys()) {
    if (upload && topField(name) === upload.field) throw invalidParameter(upload.field, 'is sent more than once');
  }
  let body: Record<string, unknown>;
  try {
    body = qs.parse(Object.fromEntries(fields) as Record<string, string>, {
      depth: FORM_DEPTH,
      strictDepth: true,
      arrayLimit: FORM_ARRAY_LIMIT,
      allowPrototypes: false,
      allowDots: false,
    }) as Record<string, unknown>;
  } catch {
    const deep = [...fields.keys()].find((n) => (n.match(/\[/g)?.length ?? 0) > FORM_DEPTH) ?? [...fields.keys()][0]!;
    throw invalidParameter(topField(deep), `nests deeper than ${FORM_DEPTH} levels`);
  }
  // qs silently drops prototype keys; a body that had one is refused rather than quietly changed.
  for (const name of fields.keys()) {
    if (/(^|\[)(__proto__|constructor|prototype)(\]|$)/.test(name)) throw invalidParameter(topField(name), `has a key that is not accepted (${name})`);
  }
  assertSafeInput(body, MAX_INPUT_DEPTH);
  return body;
}

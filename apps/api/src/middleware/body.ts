import express, { type NextFunction, type Request, type Response } from 'express';
import multer from 'multer';
import { ApiError } from '@reelay/core';
import { duplicateTopLevelKey } from './json-keys';

const FILE_FIELDS = new Set(['input_reference', 'image']);
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

/** JSON or multipart/form-data, nothing else; limits come from config and are named in errors. */
export function createBodyParser(limits: { maxBodyBytes: number; maxImageBytes: number }) {
  const json = express.json({
    limit: limits.maxBodyBytes,
    strict: false,
    type: () => true,
    verify: (req, _res, buf) => {
      (req as Request).rawJson = buf;
    },
  });
  const form = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: limits.maxImageBytes, files: 1, fields: 100, fieldSize: limits.maxBodyBytes, parts: 101 },
    streamHandler: capBodyBytes(limits.maxBodyBytes),
  } as multer.Options).any();

  return (req: Request, res: Response, next: NextFunction): void => {
    const type = (req.header('content-type') ?? '').toLowerCase();
    const length = Number(req.header('content-length') ?? 0);
    if (length > limits.maxBodyBytes) {
      return next(new ApiError(413, 'payload_too_large', `Request body exceeds the limit of ${limits.maxBodyBytes} bytes`));
    }
    if (type.startsWith('application/json') || (type === '' && length === 0)) {
      json(req, res, (err?: unknown) => {
        if (err) return next(err);
        // An empty body is an empty object; a JSON null is a body of the wrong kind.
        const body: unknown = req.body === undefined ? {} : req.body;
        const repeated = isPlainObject(body) && req.rawJson ? duplicateTopLevelKey(req.rawJson.toString('utf8')) : null;
        req.rawJson = undefined;
        if (repeated !== null) {
          return next(new ApiError(400, 'invalid_parameter', `Invalid parameter: ${repeated} is sent more than once`, repeated));
        }
        req.createBody = { body, upload: null };
        next();
      });
      return;
    }
    if (type.startsWith('multipart/form-data')) {
      form(req, res, (err?: unknown) => {
        if (err) return next(err);
        try {
          const files = (req.files as Express.Multer.File[] | undefined) ?? [];
          const file = files[0];
          if (file && !FILE_FIELDS.has(file.fieldname)) {
            throw new ApiError(400, 'invalid_parameter', `Unexpected file field: ${file.fieldname} (send the image as input_reference)`, file.fieldname);
          }
          // multer already rebuilds bracket notation (`metadata[style]`, `input_reference[image_url]`)
          // into nested objects, as the openai SDK sends them; a repeated plain field becomes an array.
          const body = { ...((req.body ?? {}) as Record<string, unknown>) };
          // No top-level field is a list, so an array here is a field sent twice.
          const repeated = Object.keys(body).find((k) => Array.isArray(body[k]));
          if (repeated) throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${repeated} is sent more than once`, repeated);
          if (file && body[file.fieldname] !== undefined) {
            throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${file.fieldname} is sent more than once`, file.fieldname);
          }
          req.createBody = { body, upload: file ? { buffer: file.buffer, field: file.fieldname } : null };
          next();
        } catch (e) {
          next(e);
        }
      });
      return;
    }
    next(new ApiError(415, 'unsupported_media_type', `Unsupported Content-Type "${type || '(none)'}": send application/json or multipart/form-data`));
  };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Feeds the request to busboy, counting bytes: a chunked body (no content-length to check up
 * front) that passes the cap is stopped with the same 413 as body-parser's.
 */
function capBodyBytes(maxBytes: number) {
  return (req: NodeJS.ReadableStream, busboy: NodeJS.WritableStream): void => {
    let seen = 0;
    const count = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen <= maxBytes) return;
      req.off('data', count);
      req.unpipe(busboy);
      busboy.emit('error', Object.assign(new Error('request entity too large'), { type: 'entity.too.large' }));
    };
    req.on('data', count);
    req.pipe(busboy);
  };
}

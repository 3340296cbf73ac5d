import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@reelay/core';
import type { Logger } from '@reelay/observability';

interface HttpishError {
  type?: string;
  status?: number;
  statusCode?: number;
  code?: string;
  field?: string;
  limit?: number;
}

/** Turns body-parser, multer and unknown errors into the one API error shape. */
function toApiError(err: unknown, maxBodyBytes: number, maxImageBytes?: number): ApiError {
  if (err instanceof ApiError) return err;
  const e = (err ?? {}) as HttpishError;
  if (e.type === 'entity.parse.failed') return new ApiError(400, 'invalid_json', 'Request body is not valid JSON');
  if (e.type === 'entity.too.large' || e.code === 'LIMIT_FIELD_VALUE') {
    return new ApiError(413, 'payload_too_large', `Request body exceeds the limit of ${maxBodyBytes} bytes`);
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return new ApiError(415, 'unsupported_media_type', 'Unsupported request body encoding or charset');
  }
  if (e.type === 'request.aborted') return new ApiError(400, 'invalid_parameter', 'Request body was not received in full');
  if (e.code === 'LIMIT_FILE_SIZE') {
    const field = e.field ?? 'input_reference';
    return new ApiError(413, 'payload_too_large', `Uploaded file ${field} exceeds the limit of ${maxImageBytes ?? e.limit} bytes`, field);
  }
  if (e.code === 'LIMIT_FILE_COUNT') {
    const field = e.field ?? 'input_reference';
    return new ApiError(400, 'invalid_parameter', `Invalid parameter: ${field} must be a single file; send one image`, field);
  }
  if (typeof e.code === 'string' && e.code.startsWith('LIMIT_')) {
    return new ApiError(400, 'invalid_parameter', `Invalid multipart body: ${(err as Error).message}`, e.field ?? null);
  }
  if (err instanceof Error && /Multipart|Unexpected end of form|Malformed part header|boundary/i.test(err.message)) {
    return new ApiError(400, 'invalid_parameter', `Invalid multipart body: ${err.message}`);
  }
  const status = e.status ?? e.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(status, 'invalid_parameter', err instanceof Error ? err.message : 'Bad request');
  }
  return new ApiError(500, 'internal_error', 'Internal error');
}

export function errorHandler(logger: Logger, maxBodyBytes: number, maxImageBytes?: number) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const apiErr = toApiError(err, maxBodyBytes, maxImageBytes);
    if (apiErr.status >= 500) logger.error({ err, reqId: req.id }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A route may have set content headers (e.g. video/mp4) before failing; the error is JSON.
    for (const h of ['content-type', 'content-length', 'etag', 'accept-ranges']) res.removeHeader(h);
    for (const [k, v] of Object.entries(apiErr.headers)) res.setHeader(k, v);
    res.status(apiErr.status).json(apiErr.toBody());
  };
}

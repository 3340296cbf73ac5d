import type { NextFunction, Request, Response } from 'express';
import { ApiError, OUTAGE_RETRY_AFTER_SECONDS, serviceUnavailable } from '@reelay/core';
import type { Logger } from '@reelay/observability';

interface HttpishError {
  type?: string;
  status?: number;
  statusCode?: number;
  code?: string;
  field?: string;
  limit?: number;
}

/** Socket-level codes of a dependency that cannot be reached (pg and ioredis both use them). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/** Prisma's codes for "cannot reach / lost / timed out on the database" and a full connection pool. */
const PRISMA_UNREACHABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** The pg driver adapter's kinds for the same (Prisma 7 wraps them as P2010 with this cause). */
const ADAPTER_UNREACHABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseAccessDenied']);
/** Postgres SQLSTATEs: connection exceptions (08xxx), shutting down or starting up, too many connections. */
const PG_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
/** pg-pool and ioredis say these in words only. */
const UNREACHABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|terminating connection|Connection is closed|Stream isn't writeable|max retries per request|the database system is (starting up|shutting down)/i;

/** Why a dependency failure is the client's 503 (retry later) rather than a 500; null when it is not one. */
function outageOf(err: unknown): ApiError | null {
  const e = (err ?? {}) as {
    code?: unknown;
    message?: unknown;
    name?: unknown;
    meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } };
  };
  const code = typeof e.code === 'string' ? e.code : '';
  const cause = e.meta?.driverAdapterError?.cause;
  const sqlState = typeof cause?.originalCode === 'string' ? cause.originalCode : code;
  // A deadlock or serialization failure: the statement left nothing behind and can simply run again.
  if (sqlState === '40P01' || sqlState === '40001' || code === 'P2034' || cause?.kind === 'TransactionWriteConflict') {
    return serviceUnavailable('A conflicting request was being written at the same moment; try again', 1);
  }
  const message = typeof e.message === 'string' ? e.message : '';
  const fromRedis = e.name === 'MaxRetriesPerRequestError' || /Connection is closed|Stream isn't writeable|max retries per request/i.test(message);
  if (fromRedis) return serviceUnavailable('The task queue is unavailable; try again shortly');
  if (
    PRISMA_UNREACHABLE.has(code) ||
    ADAPTER_UNREACHABLE.has(String(cause?.kind)) ||
    PG_UNAVAILABLE.test(sqlState) ||
    UNREACHABLE.has(code) ||
    UNREACHABLE_MESSAGE.test(message)
  ) {
    return serviceUnavailable('The database is unavailable; try again shortly');
  }
  return null;
}

/** Turns body-parser, multer, dependency and unknown errors into the one API error shape. */
function toApiError(err: unknown, maxBodyBytes: number, maxImageBytes?: number): ApiError {
  if (err instanceof ApiError) return err;
  const outage = outageOf(err);
  if (outage) return outage;
  const e = (err ?? {}) as HttpishError;
  // Express could not percent-decode a path segment (`%zz`, `%{…}`): the URL itself is malformed.
  if (err instanceof URIError || (err instanceof Error && err.message.startsWith('Failed to decode param'))) {
    return new ApiError(400, 'invalid_request', 'Malformed URL: a path segment is not valid percent-encoding');
  }
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
    if (apiErr.status === 503) logger.warn({ err, reqId: req.id }, 'request refused: a dependency is unavailable');
    else if (apiErr.status >= 500) logger.error({ err, reqId: req.id }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A route may have set content headers (e.g. video/mp4) before failing; the error is JSON.
    for (const h of ['content-type', 'content-length', 'etag', 'accept-ranges']) res.removeHeader(h);
    for (const [k, v] of Object.entries(apiErr.headers)) res.setHeader(k, v);
    // Every 503 says when to come back.
    if (apiErr.status === 503 && !res.hasHeader('retry-after')) res.setHeader('retry-after', String(OUTAGE_RETRY_AFTER_SECONDS));
    res.locals.errorCode = apiErr.code;
    res.status(apiErr.status).json(apiErr.toBody());
  };
}

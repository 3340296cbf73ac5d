/** The one error shape of the API: {"error": {message, code, type, param}}. */
export type ErrorCode =
  | 'invalid_parameter'
  | 'invalid_json'
  /** Not valid HTTP at all (a header with bytes a header cannot hold, oversized headers, broken chunking). */
  | 'invalid_request'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'invalid_api_key'
  | 'invalid_signature'
  | 'not_found'
  | 'video_not_ready'
  | 'video_expired'
  | 'idempotency_conflict'
  | 'batch_not_cancellable'
  | 'unsupported_operation'
  | 'rate_limit_exceeded'
  | 'concurrency_limit_exceeded'
  | 'insufficient_quota'
  | 'upstream_error'
  | 'service_unavailable'
  | 'internal_error';

const typeFor: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  405: 'invalid_request_error',
  408: 'invalid_request_error',
  416: 'invalid_request_error',
  417: 'invalid_request_error',
  431: 'invalid_request_error',
  409: 'invalid_request_error',
  410: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'server_error',
  500: 'server_error',
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toBody(): { error: { message: string; code: ErrorCode; type: string; param: string | null } } {
    return {
      error: { message: this.message, code: this.code, type: typeFor[this.status] ?? 'invalid_request_error', param: this.param },
    };
  }
}

export const invalidParameter = (param: string, rule: string): ApiError => new ApiError(400, 'invalid_parameter', `Invalid parameter: ${param} ${rule}`, param);

/** Seconds a client is told to wait when Postgres or Redis is unreachable. */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;

/** 503 service_unavailable with Retry-After: a dependency is down; the client may retry as it is. */
export const serviceUnavailable = (message: string, retryAfterSeconds = OUTAGE_RETRY_AFTER_SECONDS): ApiError =>
  new ApiError(503, 'service_unavailable', message, null, { 'retry-after': String(retryAfterSeconds) });

export const notFound = (what = 'video'): ApiError => new ApiError(404, 'not_found', `No ${what} found with that id`);
const TASK_MESSAGE_MAX = 300;

/**
 * A failed task's `error.message` as a client reads it: one line, no control characters, at most
 * 300 characters. Raw upstream or renderer output never gets here (it is logged as detail), so
 * this only keeps an odd upstream message from breaking a client's display or logs.
 */
export function cleanTaskMessage(message: string): string {
  const line = message
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > TASK_MESSAGE_MAX ? `${line.slice(0, TASK_MESSAGE_MAX - 1)}…` : line || 'The task failed';
}

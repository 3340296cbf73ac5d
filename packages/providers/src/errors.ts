import type { TaskErrorCode } from '@reelay/core';

/**
 * What an adapter throws when an upstream call goes wrong. The worker pipeline decides from the
 * class alone: fail the task, try the next target, or call again later.
 *
 * A PermanentProviderError's `message` may reach the client (a failed task's `error.message`): the
 * adapter's own words or the upstream's structured error message, never a raw body. Raw text (an
 * upstream's non-JSON answer, a renderer's stderr) goes in `detail`, which only the logs see.
 */

/** Why a permanent failure happened; `auth` still lets routing try another target. */
export type PermanentReason = 'invalid_request' | 'content_policy' | 'auth' | 'other';

const codeFor: Record<PermanentReason, TaskErrorCode> = {
  invalid_request: 'invalid_request',
  content_policy: 'content_policy_violation',
  auth: 'upstream_error',
  other: 'upstream_error',
};

/** The upstream refused for good (bad request, content policy, auth): retrying the same call fails again. */
export class PermanentProviderError extends Error {
  /** The task error code the failure maps to (packages/core TASK_ERROR_CODES). */
  readonly code: TaskErrorCode;
  constructor(
    readonly reason: PermanentReason,
    message: string,
    readonly status?: number,
    code?: TaskErrorCode,
    /** Raw text behind the failure, for logs only. */
    readonly detail?: string,
  ) {
    super(message);
    this.code = code ?? codeFor[reason];
  }
}

/** The upstream said 429; call again after `retryAfterMs` (from Retry-After when it sent one). */
export class RateLimitedError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Worth retrying with backoff: 5xx, connection failures, timeouts. */
export class TransientProviderError extends Error {
  constructor(
    readonly reason: 'server' | 'network' | 'timeout',
    message: string,
    readonly status?: number,
    readonly detail?: string,
  ) {
    super(message);
  }
}

export type ProviderCallError = PermanentProviderError | RateLimitedError | TransientProviderError;

/** The start of a raw upstream answer, kept for a log line. */
export const rawDetail = (body: unknown): string | undefined => (typeof body === 'string' && body ? body.slice(0, 500) : undefined);

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The usual mapping of an HTTP error answer: 429 → rate limited, 5xx/408 → transient,
 * 401/403 → auth, other 4xx → invalid request (or content policy when the adapter says so).
 */
export function errorForStatus(
  status: number,
  message: string,
  opts: { retryAfter?: string | null; contentPolicy?: boolean; detail?: string } = {},
): ProviderCallError {
  const { detail } = opts;
  if (status === 429) return new RateLimitedError(message, parseRetryAfter(opts.retryAfter), detail);
  if (status >= 500 || status === 408) return new TransientProviderError('server', message, status, detail);
  if (opts.contentPolicy) return new PermanentProviderError('content_policy', message, status, undefined, detail);
  if (status === 401 || status === 403) return new PermanentProviderError('auth', message, status, undefined, detail);
  return new PermanentProviderError('invalid_request', message, status, undefined, detail);
}

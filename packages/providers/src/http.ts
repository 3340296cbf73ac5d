import { Agent, errors as undiciErrors, request, type Dispatcher, type FormData } from 'undici';
import type { Readable } from 'node:stream';
import { errorForStatus, rawDetail, TransientProviderError, type ProviderCallError } from './errors';

/** One keep-alive pool per process for upstream calls; many in-flight polls share sockets. */
const sharedAgent = new Agent({ connections: 64, keepAliveTimeout: 10_000, pipelining: 1 });

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer | FormData;
  timeoutMs: number;
}

/**
 * Sends one upstream request. Connection failures and timeouts become TransientProviderError;
 * the answer is returned whatever its status (the adapter reads its own error format).
 */
export async function upstreamRequest(req: UpstreamRequest): Promise<UpstreamResponse> {
  try {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body as never,
      dispatcher: sharedAgent,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (err) {
    throw toTransient(err, req);
  }
}

function toTransient(err: unknown, req: UpstreamRequest): TransientProviderError {
  const e = err as Error & { code?: string };
  const what = `${req.method} ${new URL(req.url).pathname}`;
  if (
    e instanceof undiciErrors.HeadersTimeoutError ||
    e instanceof undiciErrors.BodyTimeoutError ||
    e.name === 'TimeoutError' ||
    e.name === 'AbortError'
  ) {
    return new TransientProviderError('timeout', `${what} timed out after ${req.timeoutMs} ms`);
  }
  return new TransientProviderError('network', `${what} failed: ${e.code ?? e.message}`);
}

/** Reads a JSON answer; a non-2xx answer becomes the mapped provider error with `messageOf(body)`. */
export async function readJson<T>(
  res: UpstreamResponse,
  messageOf: (body: unknown, status: number) => { message: string; contentPolicy?: boolean; detail?: string },
): Promise<T> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw new TransientProviderError('timeout', `reading the upstream answer failed: ${(err as Error).message}`);
  }
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (res.status >= 200 && res.status < 300) return body as T;
  const { message, contentPolicy, detail } = messageOf(body, res.status);
  const retryAfter = res.headers['retry-after'];
  throw errorForStatus(res.status, message, { retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, contentPolicy, detail: detail ?? rawDetail(body) });
}

/** A streamed download; a non-2xx answer is drained and mapped to a provider error. */
export async function readStream(res: UpstreamResponse, what: string): Promise<Readable> {
  if (res.status >= 200 && res.status < 300) return res.body;
  const text = await res.body.text().catch(() => '');
  const retryAfter = res.headers['retry-after'];
  throw errorForStatus(res.status, `${what}: HTTP ${res.status}`, {
    retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    detail: rawDetail(text),
  }) as ProviderCallError;
}

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
  if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError || e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new TransientProviderError('timeout', `${what} timed out after ${req.timeoutMs} ms`);
  }
  return new TransientProviderError('network', `${what} failed: ${e.code ?? e.message}`);
}

/** An answer's body: parsed JSON, the text when it is not JSON, null when empty. */
export async function readBody(res: UpstreamResponse): Promise<unknown> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw new TransientProviderError('timeout', `reading the upstream answer failed: ${(err as Error).message}`);
  }
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** Reads a JSON answer; a non-2xx answer becomes the mapped provider error with `messageOf(body)`. */
export async function readJson<T>(
  res: UpstreamResponse,
  messageOf: (body: unknown, status: number) => { message: string; contentPolicy?: boolean; detail?: string },
): Promise<T> {
  const body = await readBody(res);
  if (res.status >= 200 && res.status < 300) return body as T;
  const { message, contentPolicy, detail } = messageOf(body, res.status);
  const retryAfter = res.headers['retry-after'];
  throw errorForStatus(res.status, message, {
    retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    contentPolicy,
    detail: detail ?? rawDetail(body),
  });
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

/** What reads an upstream's error body into a message (and says whether it is a policy refusal). */
export type ErrorReader = (body: unknown, status: number) => { message: string; contentPolicy?: boolean };

/**
 * One upstream JSON API: its root, the headers every call carries (auth, version pins) and its
 * error format, so an adapter's calls are one line each.
 */
export class JsonApi {
  constructor(
    readonly base: string,
    private readonly headers: () => Record<string, string>,
    readonly timeoutMs: number,
    private readonly readError: ErrorReader,
  ) {}

  /** Sends a call and returns the raw answer, for adapters that read some statuses themselves. */
  send(method: UpstreamRequest['method'], path: string, json?: unknown): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { ...this.headers(), accept: 'application/json' };
    if (json !== undefined) headers['content-type'] = 'application/json';
    const url = /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
    return upstreamRequest({ method, url, headers, body: json === undefined ? undefined : JSON.stringify(json), timeoutMs: this.timeoutMs });
  }

  /** Sends a call and reads its JSON answer; a non-2xx answer becomes the mapped provider error. */
  async call<T>(method: UpstreamRequest['method'], path: string, json?: unknown): Promise<T> {
    return readJson<T>(await this.send(method, path, json), this.readError);
  }

  /** Reads an answer already received the way call() would. */
  read<T>(res: UpstreamResponse): Promise<T> {
    return readJson<T>(res, this.readError);
  }
}

/** One header of a request as a single string ('' when absent). */
export function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

import { Transform, type Readable } from 'node:stream';
import { request } from 'undici';
import { PermanentProviderError, RateLimitedProviderError, TransientProviderError } from './provider';

/**
 * HTTP to upstream provider APIs: JSON calls that turn the upstream's answer into the provider
 * error classes the worker acts on, and capped streaming downloads of result files.
 */
export interface UpstreamCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeoutMs: number;
}

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Reads the provider's own error message out of an error body; each adapter knows its shape. */
export type ErrorMessageReader = (body: unknown, status: number) => string | undefined;

const MAX_JSON_BYTES = 8 * 1024 * 1024;

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) return Math.max(0, Math.ceil(Number(raw)));
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

async function readCapped(body: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new TransientProviderError(`upstream answer is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * One JSON call. 2xx answers are returned; 429 becomes RateLimitedProviderError (with Retry-After),
 * 408/409/5xx and network failures or timeouts become TransientProviderError, any other 4xx a
 * PermanentProviderError carrying the provider's message. `allow` lists statuses handed back as-is.
 */
export async function callUpstream(
  provider: string,
  call: UpstreamCall,
  readMessage: ErrorMessageReader,
  allow: number[] = [],
): Promise<UpstreamAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
  let body: string | undefined;
  if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(call.json);
  }
  let res;
  try {
    res = await request(call.url, { method: call.method, headers, body, signal: AbortSignal.timeout(call.timeoutMs) });
  } catch (err) {
    const e = err as Error & { code?: string };
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${call.timeoutMs} ms` : (e.code ?? e.message);
    throw new TransientProviderError(`${provider}: ${call.method} ${new URL(call.url).pathname} failed: ${why}`);
  }
  let text: string;
  try {
    text = (await readCapped(res.body as AsyncIterable<Buffer>, MAX_JSON_BYTES)).toString('utf8');
  } catch (err) {
    res.body.on('error', () => undefined);
    res.body.destroy();
    if (err instanceof TransientProviderError) throw err;
    throw new TransientProviderError(`${provider}: reading the answer to ${call.method} ${new URL(call.url).pathname} failed: ${(err as Error).message}`);
  }
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's HTML error page, say): keep the text for the message.
  }
  const status = res.statusCode;
  if ((status >= 200 && status < 300) || allow.includes(status)) return { status, headers: res.headers, body: parsed };

  const message = `${provider}: ${readMessage(parsed, status) ?? (typeof parsed === 'string' && parsed ? parsed.slice(0, 300) : `HTTP ${status}`)}`;
  if (status === 429) throw new RateLimitedProviderError(message, retryAfterSeconds(res.headers['retry-after']));
  if (status === 408 || status === 409 || status >= 500) throw new TransientProviderError(message, retryAfterSeconds(res.headers['retry-after']));
  throw new PermanentProviderError(status === 400 || status === 422 ? 'invalid_request' : 'upstream_error', message);
}

export interface DownloadOptions {
  headers?: Record<string, string>;
  maxBytes: number;
  /** Budget for connecting and receiving the headers; the body streams at its own pace. */
  timeoutMs: number;
  /** Headers that must not follow a redirect to another origin (the provider's key). */
  credentialHeaders?: string[];
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Streams a result file. Redirects are followed by hand (result links commonly redirect to a
 * storage host) so that the provider's key is dropped when the redirect leaves the origin, and
 * only http(s) targets are followed. The stream errors once it passes maxBytes.
 */
export async function downloadStream(provider: string, url: string, opts: DownloadOptions): Promise<Readable> {
  let current = new URL(url);
  const headers: Record<string, string> = { ...opts.headers };
  const firstOrigin = current.origin;
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new PermanentProviderError('upstream_error', `${provider}: result URL scheme ${current.protocol} is not http(s)`);
    }
    if (current.origin !== firstOrigin) for (const h of opts.credentialHeaders ?? []) delete headers[h];
    const signal = AbortSignal.timeout(opts.timeoutMs);
    let res;
    try {
      res = await request(current, { method: 'GET', headers, signal, headersTimeout: opts.timeoutMs });
    } catch (err) {
      throw new TransientProviderError(`${provider}: downloading the result failed: ${(err as Error & { code?: string }).code ?? (err as Error).message}`);
    }
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode) && location) {
      await res.body.dump();
      if (hop >= (opts.maxRedirects ?? 5)) throw new TransientProviderError(`${provider}: too many redirects downloading the result`);
      current = new URL(Array.isArray(location) ? location[0]! : location, current);
      continue;
    }
    if (res.statusCode !== 200) {
      const text = (await readCapped(res.body as AsyncIterable<Buffer>, 64 * 1024).catch(() => Buffer.alloc(0))).toString('utf8');
      const message = `${provider}: downloading the result answered HTTP ${res.statusCode}${text ? `: ${text.slice(0, 200)}` : ''}`;
      if (res.statusCode === 429) throw new RateLimitedProviderError(message, retryAfterSeconds(res.headers['retry-after']));
      // Expired or removed result links (Replicate deletes outputs after an hour) cannot come back.
      if (res.statusCode === 404 || res.statusCode === 410 || res.statusCode === 403) throw new PermanentProviderError('upstream_error', message);
      throw new TransientProviderError(message);
    }
    if (Number(res.headers['content-length']) > opts.maxBytes) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      throw new PermanentProviderError('upstream_error', `${provider}: result is larger than ${opts.maxBytes} bytes`);
    }
    let seen = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > opts.maxBytes) return cb(new PermanentProviderError('upstream_error', `${provider}: result is larger than ${opts.maxBytes} bytes`));
        cb(null, chunk);
      },
    });
    res.body.on('error', (err) => cap.destroy(err));
    return res.body.pipe(cap);
  }
}

/** The last "NN%" in a progress log (tqdm and most model runners print these). */
export function progressFromLogs(logs: string | undefined | null): number | undefined {
  if (!logs) return undefined;
  const matches = [...logs.matchAll(/(\d{1,3}(?:\.\d+)?)\s?%/g)];
  const last = matches.at(-1);
  if (!last) return undefined;
  const pct = Math.floor(Number(last[1]));
  return pct >= 0 && pct <= 100 ? Math.min(99, pct) : undefined;
}

import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { isPublicAddress, vetHost, type ResolvedAddress } from './address';
import { UnsafeUrlError } from './errors';

export interface SafeFetchOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Kept in memory (not a stream) so a 307/308 redirect can send it again. */
  body?: string | Uint8Array;
  /** The response body is refused (not truncated) once it passes this many bytes. */
  maxBytes: number;
  /** One budget for the whole call: DNS, connects, every redirect hop and the body. */
  timeoutMs: number;
  maxRedirects?: number;
  /**
   * FOR TESTS ONLY. Replaces the public-address rule so a test can reach a loopback server it started.
   * Production code must never pass it: doing so switches off the SSRF protection for every address
   * the callback accepts. Metadata hostnames stay refused regardless.
   */
  allowedAddress?: (ip: string) => boolean;
  /**
   * Non-public targets an operator has vouched for (see parseAllowList), allowed in addition to
   * public addresses: judged per address and port, on every hop, before connecting.
   */
  allowExtra?: (ip: string, port: number) => boolean;
}

export interface SafeFetchResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  finalUrl: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/**
 * A `lookup` for net/tls.connect that answers only with addresses already vetted, so the socket goes
 * to exactly what was checked: a second DNS query (which a rebinding server could answer differently)
 * never happens. Literal-IP hosts skip lookup altogether and connect to the literal that was vetted.
 */
function pinnedLookup(vetted: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const usable = options.family ? vetted.filter((a) => a.family === options.family) : vetted;
    process.nextTick(() => {
      const first = usable[0];
      if (!first) {
        callback(Object.assign(new Error('no vetted address of the requested family'), { code: 'ENOTFOUND' }), '');
      } else if (options.all) {
        callback(
          null,
          usable.map((a) => ({ ...a })),
        );
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

function parseHttpUrl(raw: string | URL, base?: URL): URL | undefined {
  try {
    const url = new URL(raw, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Stops reading a response early. undici reports a bare destroy() as an 'error' event, so listen for it. */
function discard(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

interface Hop {
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

type HopResult = { redirect: string; status: number } | SafeFetchResponse;

async function fetchHop(url: URL, hop: Hop, opts: SafeFetchOptions, signal: AbortSignal, isAllowed: (ip: string, port: number) => boolean): Promise<HopResult> {
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  // WHATWG URL has already normalised legacy IPv4 spellings (2130706433, 0177.0.0.1, ...) in hostname.
  const vetted = await abortable(
    vetHost(url.hostname, (ip) => isAllowed(ip, port)),
    signal,
  );
  // A fresh agent per hop: its only way to resolve a name is the pinned list for this one host.
  // undici 7 follows no redirects unless a redirect interceptor is composed in; none is.
  const agent = new Agent({ connect: { lookup: pinnedLookup(vetted) } });
  try {
    const res = await agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: hop.method,
      headers: hop.headers,
      body: hop.body,
      signal,
    });
    const location = res.headers.location;
    if (REDIRECT_STATUSES.has(res.statusCode) && location !== undefined) {
      await res.body.dump();
      return { redirect: Array.isArray(location) ? (location[0] ?? '') : location, status: res.statusCode };
    }

    const tooLarge = (): UnsafeUrlError => new UnsafeUrlError('too_large', `response from ${url.hostname} is larger than ${opts.maxBytes} bytes`);
    if (Number(res.headers['content-length']) > opts.maxBytes) {
      discard(res.body);
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > opts.maxBytes) {
        discard(res.body);
        throw tooLarge();
      }
      chunks.push(chunk);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), finalUrl: url.href };
  } finally {
    await agent.destroy();
  }
}

/**
 * Fetches a user-supplied http(s) URL without letting it reach internal addresses: every hop's host is
 * resolved and vetted before any connection, the connection is pinned to the vetted addresses, and
 * redirects are followed by hand so each target is vetted too. Throws only UnsafeUrlError.
 */
export async function safeFetch(rawUrl: string, opts: SafeFetchOptions): Promise<SafeFetchResponse> {
  const isBaseAllowed = opts.allowedAddress ?? isPublicAddress;
  const isAllowed = (ip: string, port: number): boolean => isBaseAllowed(ip) || (opts.allowExtra?.(ip, port) ?? false);
  const maxRedirects = opts.maxRedirects ?? 3;
  const signal = AbortSignal.timeout(opts.timeoutMs);

  let url = parseHttpUrl(rawUrl);
  if (!url) throw new UnsafeUrlError('scheme', 'URL must be a valid http:// or https:// URL');

  const hop: Hop = {
    method: (opts.method ?? 'GET').toUpperCase(),
    headers: Object.fromEntries(Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body: opts.body,
  };

  for (let redirects = 0; ; redirects++) {
    let result: HopResult;
    try {
      result = await fetchHop(url, hop, opts, signal, isAllowed);
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw err;
      if (signal.aborted) {
        throw new UnsafeUrlError('timeout', `request to ${url.hostname} timed out after ${opts.timeoutMs} ms`, { cause: err });
      }
      const code = (err as { code?: unknown }).code;
      const detail = typeof code === 'string' ? ` (${code})` : '';
      throw new UnsafeUrlError('http', `request to ${url.hostname} failed${detail}`, { cause: err });
    }
    if (!('redirect' in result)) return result;

    if (redirects >= maxRedirects) throw new UnsafeUrlError('redirect', `too many redirects (more than ${maxRedirects})`);
    const next = parseHttpUrl(result.redirect, url);
    if (!next) throw new UnsafeUrlError('redirect', `redirect from ${url.hostname} to a non-http(s) URL was refused`);

    // Browser semantics: 303, and 301/302 after a POST, turn into a bodiless GET.
    if (result.status === 303 ? hop.method !== 'HEAD' : result.status <= 302 && hop.method === 'POST') {
      hop.method = 'GET';
      hop.body = undefined;
      delete hop.headers['content-type'];
      delete hop.headers['content-length'];
    }
    // Credentials meant for one origin must not follow a redirect to another.
    if (next.origin !== url.origin) for (const h of CREDENTIAL_HEADERS) delete hop.headers[h];
    url = next;
  }
}

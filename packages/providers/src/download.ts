import { Transform, type Readable } from 'node:stream';
import { request } from 'undici';
import { parseRetryAfter, PermanentProviderError, RateLimitedError, rawDetail, TransientProviderError } from './errors';
import type { OutputRef } from './provider';

export interface DownloadOptions {
  headers?: Record<string, string>;
  maxBytes: number;
  /** Budget for the answer's headers, and for each silence while the body streams. */
  timeoutMs: number;
  /** Headers that must not follow a redirect to another origin (the provider's key). */
  credentialHeaders?: string[];
  maxRedirects?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Streams an upstream result file into whoever reads it (finalize writes it to storage).
 *
 * Result URLs come from the provider's API, not from users, so they are not passed through the
 * SSRF guard (which also buffers whole bodies and refuses the loopback emulators and self-hosted
 * upstreams an operator may configure). What is guarded instead: redirects are followed by hand,
 * only to http(s), at most `maxRedirects`; the provider's key is dropped as soon as a redirect
 * leaves the first origin (Gemini's download link redirects to a storage host); the body is cut
 * off past `maxBytes`, and a declared Content-Length over the cap is refused before reading.
 */
export async function downloadStream(provider: string, url: string, opts: DownloadOptions): Promise<Readable> {
  let current = new URL(url);
  const headers: Record<string, string> = { ...opts.headers };
  const firstOrigin = current.origin;
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new PermanentProviderError('other', `${provider}: result URL scheme ${current.protocol} is not http(s)`);
    }
    if (current.origin !== firstOrigin) for (const h of opts.credentialHeaders ?? []) delete headers[h];
    let res;
    try {
      res = await request(current, { method: 'GET', headers, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs });
    } catch (err) {
      const e = err as Error & { code?: string };
      const timeout = /Timeout/.test(e.name) || e.code === 'UND_ERR_HEADERS_TIMEOUT';
      throw new TransientProviderError(timeout ? 'timeout' : 'network', `${provider}: downloading the result failed: ${e.code ?? e.message}`);
    }
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode) && location) {
      await res.body.dump();
      if (hop >= (opts.maxRedirects ?? 5)) throw new TransientProviderError('server', `${provider}: too many redirects downloading the result`);
      current = new URL(Array.isArray(location) ? location[0]! : location, current);
      continue;
    }
    if (res.statusCode !== 200) {
      const detail = rawDetail(await res.body.text().catch(() => ''));
      const message = `${provider}: downloading the result answered HTTP ${res.statusCode}`;
      const retryAfter = res.headers['retry-after'];
      if (res.statusCode === 429) throw new RateLimitedError(message, parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter), detail);
      // Expired or removed result links (Replicate deletes outputs after an hour) do not come back.
      if (res.statusCode >= 400 && res.statusCode < 500) throw new PermanentProviderError('other', message, res.statusCode, undefined, detail);
      throw new TransientProviderError('server', message, res.statusCode, detail);
    }
    const tooLarge = (): PermanentProviderError => new PermanentProviderError('other', `${provider}: result is larger than ${opts.maxBytes} bytes`);
    if (Number(res.headers['content-length']) > opts.maxBytes) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      throw tooLarge();
    }
    let seen = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > opts.maxBytes) return cb(tooLarge());
        cb(null, chunk);
      },
    });
    res.body.on('error', (err) => cap.destroy(err));
    cap.on('close', () => res.body.destroy());
    return res.body.pipe(cap);
  }
}

/** The last "NN%" in a progress log (tqdm and most model runners print these), below 100. */
export function progressFromLogs(logs: string | undefined | null): number | undefined {
  if (!logs) return undefined;
  const last = [...logs.matchAll(/(\d{1,3}(?:\.\d+)?)\s?%/g)].at(-1);
  if (!last) return undefined;
  const pct = Math.floor(Number(last[1]));
  return pct >= 0 && pct <= 100 ? Math.min(99, pct) : undefined;
}

export interface OutputDownloadOptions {
  maxDownloadBytes?: number;
  downloadTimeoutMs?: number;
}

/** fetchOutput for adapters whose outputs are URLs: streams it with the shared limits. */
export function downloadOutput(provider: string, ref: OutputRef, opts: OutputDownloadOptions, credentialHeaders?: string[]): Promise<Readable> {
  if (ref.kind !== 'url') throw new PermanentProviderError('other', `${provider}: outputs are URLs`);
  return downloadStream(provider, ref.url, {
    headers: ref.headers,
    credentialHeaders,
    maxBytes: opts.maxDownloadBytes ?? 4 * 1024 ** 3,
    timeoutMs: opts.downloadTimeoutMs ?? 60_000,
  });
}

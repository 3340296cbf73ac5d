import { hash } from 'node:crypto';

/**
 * Express's default weak ETag for a response body (W/"<length in hex>-<first 27 characters of its
 * SHA-1 in base64>", as the etag package writes it), made with the one-shot hash: the default
 * builds a Hash stream object for every response, which showed in the API's allocation profile.
 */
export function weakEtag(body: string | Buffer, encoding?: BufferEncoding): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, encoding) : body;
  if (bytes.length === 0) return 'W/"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk"';
  return `W/"${bytes.length.toString(16)}-${hash('sha1', bytes, 'base64').slice(0, 27)}"`;
}

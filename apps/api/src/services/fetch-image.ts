import { ApiError, sniffImage, type ImageBytes } from '@reelay/core';
import { safeFetch, UnsafeUrlError } from '@reelay/net';
import type { ApiDeps } from '../deps';

/** Downloads an image URL through the SSRF guard; every failure is the client's 400. */
export async function fetchImageUrl(deps: ApiDeps, url: string): Promise<ImageBytes> {
  let res;
  try {
    res = await safeFetch(url, { maxBytes: deps.config.REELAY_MAX_IMAGE_BYTES, timeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof UnsafeUrlError) throw new ApiError(400, 'invalid_parameter', `Invalid parameter: image ${err.message}`, 'image');
    throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: image URL could not be fetched', 'image');
  }
  if (res.status < 200 || res.status >= 300) {
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: image URL answered HTTP ${res.status}`, 'image');
  }
  const mime = sniffImage(res.body);
  if (!mime) throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: image URL did not return a PNG, JPEG or WebP image', 'image');
  return { data: res.body, mime };
}

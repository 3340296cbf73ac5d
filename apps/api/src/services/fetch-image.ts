import { ApiError, checkImageBytes, type ImageBytes } from '@reelay/core';
import { allowListMatcher, parseAllowList, safeFetch, UnsafeUrlError } from '@reelay/net';
import type { ApiDeps } from '../deps';

const matchers = new WeakMap<object, (ip: string, port: number) => boolean>();

/** REELAY_FETCH_ALLOW_HOSTS as a matcher, parsed once per config. */
function allowedInternalHosts(deps: ApiDeps): (ip: string, port: number) => boolean {
  let m = matchers.get(deps.config);
  if (!m) {
    m = allowListMatcher(parseAllowList(deps.config.REELAY_FETCH_ALLOW_HOSTS));
    matchers.set(deps.config, m);
  }
  return m;
}

/** Downloads an image URL through the SSRF guard; every failure is the client's 400 on `param`. */
export async function fetchImageUrl(deps: ApiDeps, url: string, param = 'image'): Promise<ImageBytes> {
  let res;
  try {
    res = await safeFetch(url, { maxBytes: deps.config.REELAY_MAX_IMAGE_BYTES, timeoutMs: 10_000, allowExtra: allowedInternalHosts(deps) });
  } catch (err) {
    if (err instanceof UnsafeUrlError) throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${param} ${err.message}`, param);
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${param} URL could not be fetched`, param);
  }
  if (res.status < 200 || res.status >= 300) {
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${param} URL answered HTTP ${res.status}`, param);
  }
  return checkImageBytes(res.body, param, deps.config.REELAY_MAX_IMAGE_PIXELS);
}

export { UnsafeUrlError, type UnsafeUrlReason } from './errors';
export { BLOCKED_HOSTNAMES, isPublicAddress, resolvePublic, type ResolvedAddress } from './address';
export { safeFetch, type SafeFetchOptions, type SafeFetchResponse } from './safe-fetch';
export { allowListMatcher, parseAllowList, type AllowListEntry } from './allow-list';

export { UnsafeUrlError, type UnsafeUrlReason } from './errors';
export { BLOCKED_HOSTNAMES, isPublicAddress, resolvePublic, type ResolvedAddress } from './address';
export { safeFetch, type SafeFetchOptions, type SafeFetchResponse } from './safe-fetch';
export { allowListedAddresses } from './allow-list';

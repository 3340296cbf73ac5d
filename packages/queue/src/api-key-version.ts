import type { Redis } from 'ioredis';

/**
 * API processes cache key lookups in memory; each request compares this Redis counter with the
 * value its cache was filled under and drops the cache when it moved. Bumping it therefore makes a
 * revocation (or any key change) take effect on the very next request in every process.
 */
export const apiKeyVersionKey = (prefix: string): string => `${prefix}:api-keys:version`;

/** Call after revoking or changing an API key (CLI, admin routes): every API process re-reads keys. */
export async function invalidateApiKeyCache(redis: Redis, prefix: string): Promise<void> {
  await redis.incr(apiKeyVersionKey(prefix));
}

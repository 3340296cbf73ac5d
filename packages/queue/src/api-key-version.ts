import type { Redis } from 'ioredis';
import { apiKeyVersionKey } from './keys';

/**
 * API processes cache key lookups in memory; each request compares the `apiKeyVersionKey` counter
 * with the value its cache was filled under and drops the cache when it moved. Bumping it
 * therefore makes a revocation (or any key change) take effect on the very next request in every
 * process.
 */
export async function invalidateApiKeyCache(redis: Redis, prefix: string): Promise<void> {
  await redis.incr(apiKeyVersionKey(prefix));
}

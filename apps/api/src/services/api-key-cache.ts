import { hashApiKey } from '@reelay/core';
import { findActiveKey, type ApiKey, type Db } from '@reelay/db';
import { apiKeyVersionKey } from '@reelay/queue';
import type { Redis } from 'ioredis';

const MAX_ENTRIES = 10_000;

/**
 * In-process cache of active keys by hash, so the hot path skips a Postgres read. Correctness comes
 * from the shared version counter (see invalidateApiKeyCache): one Redis GET per request, and any
 * bump empties the cache before the lookup. `ttlMs` bounds staleness for changes made behind
 * Reelay's back (e.g. SQL by hand). Unknown keys are never cached. If Redis cannot answer, the
 * cache is bypassed rather than trusted.
 */
export class ApiKeyCache {
  private entries = new Map<string, { key: ApiKey; at: number }>();
  private version: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  async find(secret: string): Promise<ApiKey | null> {
    if (this.ttlMs === 0) return findActiveKey(this.db, secret);
    let version: string | null;
    try {
      version = (await this.redis.get(apiKeyVersionKey(this.prefix))) ?? '0';
    } catch {
      this.entries.clear();
      return findActiveKey(this.db, secret);
    }
    if (version !== this.version) {
      this.entries.clear();
      this.version = version;
    }
    const hash = hashApiKey(secret);
    const hit = this.entries.get(hash);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.key;
    const key = await findActiveKey(this.db, secret);
    // Only store if no bump happened while we read, so a lookup racing a revoke is not kept.
    if (key && this.version === version) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(hash, { key, at: Date.now() });
    } else this.entries.delete(hash);
    return key;
  }

  clear(): void {
    this.entries.clear();
  }
}

import DataLoader from 'dataloader';
import { hashApiKey } from '@reelay/core';
import { findActiveKey, type ApiKey, type Db } from '@reelay/db';
import { apiKeyVersionKey } from '@reelay/queue';
import type { Redis } from 'ioredis';

const MAX_ENTRIES = 10_000;

/**
 * In-process cache of active keys by hash, so the hot path skips a Postgres read. Correctness comes
 * from the shared version counter (see invalidateApiKeyCache): every request reads it from Redis,
 * and any bump empties the cache before the lookup. The requests of one event-loop turn share one
 * GET, sent after the last of them arrived, so each still sees any bump made before it came in.
 * `ttlMs` bounds staleness for changes made behind Reelay's back (e.g. SQL by hand). Unknown keys
 * are never cached. If Redis cannot answer, the cache is bypassed rather than trusted.
 */
export class ApiKeyCache {
  private entries = new Map<string, { key: ApiKey; at: number }>();
  private version: string | null = null;
  private readonly versions: DataLoader<string, string>;

  constructor(
    private readonly db: Db,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {
    this.versions = new DataLoader<string, string>(
      async (keys) => {
        const version = (await this.redis.get(keys[0]!)) ?? '0';
        return keys.map(() => version);
      },
      { cache: false, batchScheduleFn: (run) => setImmediate(run) },
    );
  }

  async find(secret: string): Promise<ApiKey | null> {
    if (this.ttlMs === 0) return findActiveKey(this.db, secret);
    let version: string;
    try {
      version = await this.versions.load(apiKeyVersionKey(this.prefix));
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

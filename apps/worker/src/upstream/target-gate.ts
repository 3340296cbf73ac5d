import type { ModelTarget } from '@reelay/core';
import { upstreamKey } from '@reelay/queue';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Per-target limits shared by every worker process, kept in Redis:
 * - request rate (`maxRequestsPerSecond`): rate-limiter-flexible's RateLimiterRedis, an atomic
 *   Redis counter per window — a maintained library instead of our own Lua for fixed windows;
 * - upstream tasks in flight (`maxConcurrentTasks`): a sorted set of task ids scored by lease
 *   expiry, taken at submit and released when the task ends (a lost release expires on its own);
 * - a cooldown set from an upstream 429's Retry-After, so every process backs off, not just the
 *   one that was told.
 */
export type GateAnswer = { ok: true } | { ok: false; retryInMs: number; why: string };

const SLOT_LEASE_MS = 15 * 60_000;

// Drops expired leases, then holds (or refreshes) the slot of ARGV[1] if one is free.
const ACQUIRE_SLOT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`;

export interface UpstreamGate {
  beforeRequest(targetKey: string, target: ModelTarget): Promise<GateAnswer>;
  holdSlot(targetKey: string, target: ModelTarget, taskId: string): Promise<GateAnswer>;
  releaseSlot(targetKey: string, taskId: string): Promise<void>;
  coolDown(targetKey: string, ms: number): Promise<void>;
}

/** No limits at all: for a context without Redis. */
export const NO_LIMITS: UpstreamGate = {
  beforeRequest: async () => ({ ok: true }),
  holdSlot: async () => ({ ok: true }),
  releaseSlot: async () => undefined,
  coolDown: async () => undefined,
};

/**
 * How long a "no cooldown" answer from Redis is reused. Every poll asks, so without this each
 * poll costs a Redis round trip; with it another process's 429 is seen at most this much later
 * (this process's own 429s are seen at once).
 */
const COOLDOWN_CHECK_MS = 250;

export class TargetGate implements UpstreamGate {
  private readonly limiters = new Map<string, RateLimiterRedis>();
  /** Per target: until when the cooldown is known (ms epoch), and the pending lookup if any. */
  private readonly cooldowns = new Map<string, { clearUntil: number; coolingUntil: number; lookup?: Promise<number> }>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(kind: 'inflight' | 'cooldown' | 'rate', targetKey: string): string {
    return upstreamKey(this.prefix, kind, targetKey);
  }

  /** May this process call the target now? Checks the 429 cooldown and the request rate. */
  async beforeRequest(targetKey: string, target: ModelTarget): Promise<GateAnswer> {
    const cooling = await this.cooldownLeft(targetKey);
    if (cooling > 0) return { ok: false, retryInMs: cooling, why: 'upstream asked to slow down (429)' };
    if (!target.maxRequestsPerSecond) return { ok: true };
    try {
      await this.limiter(targetKey, target.maxRequestsPerSecond).consume(targetKey);
      return { ok: true };
    } catch (err) {
      if (err instanceof RateLimiterRes) return { ok: false, retryInMs: Math.max(1, err.msBeforeNext), why: 'request rate limit' };
      throw err;
    }
  }

  /** Takes (or refreshes) this task's in-flight slot on the target. */
  async holdSlot(targetKey: string, target: ModelTarget, taskId: string): Promise<GateAnswer> {
    if (!target.maxConcurrentTasks) return { ok: true };
    const now = Date.now();
    const got = (await this.redis.eval(
      ACQUIRE_SLOT,
      1,
      this.key('inflight', targetKey),
      taskId,
      String(now),
      String(now + SLOT_LEASE_MS),
      String(target.maxConcurrentTasks),
      String(SLOT_LEASE_MS * 2),
    )) as number;
    return got === 1 ? { ok: true } : { ok: false, retryInMs: 1000, why: 'concurrency limit' };
  }

  async releaseSlot(targetKey: string, taskId: string): Promise<void> {
    await this.redis.zrem(this.key('inflight', targetKey), taskId);
  }

  /** Every process stops calling the target until the upstream's Retry-After has passed. */
  async coolDown(targetKey: string, ms: number): Promise<void> {
    if (ms <= 0) return;
    this.cooldowns.set(targetKey, { clearUntil: 0, coolingUntil: Date.now() + Math.ceil(ms) });
    await this.redis.set(this.key('cooldown', targetKey), '1', 'PX', Math.ceil(ms));
  }

  /** Milliseconds of cooldown left on the target (0 when none), from Redis at most every COOLDOWN_CHECK_MS. */
  private async cooldownLeft(targetKey: string): Promise<number> {
    const now = Date.now();
    let known = this.cooldowns.get(targetKey);
    if (known && known.coolingUntil > now) return known.coolingUntil - now;
    if (known && known.clearUntil > now) return 0;
    if (!known) this.cooldowns.set(targetKey, (known = { clearUntil: 0, coolingUntil: 0 }));
    // Concurrent polls of one target share one lookup.
    const entry = known;
    entry.lookup ??= this.redis
      .pttl(this.key('cooldown', targetKey))
      .then((left) => {
        const at = Date.now();
        if (left > 0) entry.coolingUntil = at + left;
        else entry.clearUntil = at + COOLDOWN_CHECK_MS;
        return Math.max(0, left);
      })
      .finally(() => {
        entry.lookup = undefined;
      });
    return entry.lookup;
  }

  private limiter(targetKey: string, perSecond: number): RateLimiterRedis {
    let l = this.limiters.get(targetKey);
    if (!l) {
      // Below one request a second: one point per window of ceil(1 / rate) seconds.
      const slow = perSecond < 1;
      l = new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: this.key('rate', ''),
        points: slow ? 1 : Math.floor(perSecond),
        duration: slow ? Math.ceil(1 / perSecond) : 1,
      });
      this.limiters.set(targetKey, l);
    }
    return l;
  }
}

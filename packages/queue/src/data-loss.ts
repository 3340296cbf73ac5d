import { randomUUID } from 'node:crypto';
import { queueRecoveryDuration, type Logger } from '@reelay/observability';
import type { Redis } from 'ioredis';
import { recoveryEpochKey, recoveryLeaseKey } from './keys';

/** How often a worker looks for the epoch marker: a FLUSHALL comes with no reconnect to notice. */
const CHECK_EVERY_MS = 1_000;
/** The recovering worker renews its lease after every batch; a worker that dies leaves it to expire. */
const LEASE_MS = 30_000;

// The epoch is written only by the lease holder, and only if it still holds the lease: a lease
// that vanished means Redis lost its data again during the pass, which must then start over.
const FINISH = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export interface RecoveryMarks {
  /** Redis holds every live task's job (as far as Redis can tell). */
  epoch: boolean;
  /** A worker is re-queueing live tasks right now. */
  recovering: boolean;
}

/** What the API's and the worker's /readyz read: both marks in one command. */
export async function readRecoveryMarks(redis: Redis, prefix: string): Promise<RecoveryMarks> {
  const [epoch, lease] = await redis.mget(recoveryEpochKey(prefix), recoveryLeaseKey(prefix));
  return { epoch: epoch !== null, recovering: lease !== null };
}

export interface DataLossWatchOptions {
  redis: Redis;
  prefix: string;
  logger: Logger;
  /**
   * Puts back what Redis lost: the schedulers and a job for every live task. Call `renew` between
   * batches so a long pass keeps its lease.
   */
  recover(renew: () => Promise<void>): Promise<void>;
  checkEveryMs?: number;
}

/**
 * Notices that Redis lost its data and has it refilled, fast. Postgres holds every task, so a
 * live task whose job vanished only needs a new job; the question is noticing. An epoch key is
 * written once Redis holds every live task's job; a Redis that restarted empty, failed over to an
 * empty replica or was flushed has none. Every worker checks for it after each reconnect (the
 * `ready` event) and every CHECK_EVERY_MS; the first to take the lease re-queues, and writes the
 * epoch when done. Until then /readyz answers "recovering".
 */
export class DataLossWatch {
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private closed = false;
  /** Since when this process has known Redis lost its data without seeing it refilled; null when all is well. */
  lostSince: Date | null = null;

  constructor(private readonly opts: DataLossWatchOptions) {}

  private get epochKey(): string {
    return recoveryEpochKey(this.opts.prefix);
  }

  private get leaseKey(): string {
    return recoveryLeaseKey(this.opts.prefix);
  }

  /** Looks once (recovering in the background if needed) and keeps looking; says whether the epoch was there. */
  async start(): Promise<boolean> {
    const found = (await this.opts.redis.exists(this.epochKey)) === 1;
    if (!found) {
      this.lostSince = new Date();
      this.opts.logger.info('no recovery epoch in Redis (first start on it, or it lost its data): re-queueing live tasks');
      void this.check();
    }
    this.opts.redis.on('ready', this.onReady);
    this.timer = setInterval(() => void this.check(), this.opts.checkEveryMs ?? CHECK_EVERY_MS);
    this.timer.unref();
    return found;
  }

  private readonly onReady = (): void => void this.check();

  /** One look at the epoch, recovering when it is gone; looks never overlap. */
  check(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.running ??= this.checkOnce()
      .catch((err: Error) => {
        if (!this.closed) this.opts.logger.error({ err }, 'recovery after Redis data loss failed; retrying');
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async checkOnce(): Promise<void> {
    const { redis, logger } = this.opts;
    if ((await redis.exists(this.epochKey)) === 1) {
      if (this.lostSince) logger.info('Redis was refilled by another worker');
      this.lostSince = null;
      return;
    }
    if (!this.lostSince) {
      this.lostSince = new Date();
      logger.warn('Redis lost its data (the recovery epoch is gone): re-queueing live tasks');
    }
    const claimed = await redis.set(this.leaseKey, this.token, 'PX', LEASE_MS, 'NX');
    if (claimed !== 'OK' && (await redis.get(this.leaseKey)) !== this.token) return; // another worker is at it
    const started = Date.now();
    await this.opts.recover(async () => {
      await redis.eval(RENEW, 1, this.leaseKey, this.token, String(LEASE_MS));
    });
    const finished = await redis.eval(FINISH, 2, this.leaseKey, this.epochKey, this.token, new Date().toISOString());
    if (finished !== 1) return; // Redis lost its data again meanwhile: the next look starts over
    const noticedMs = Date.now() - this.lostSince.getTime();
    queueRecoveryDuration.observe(noticedMs / 1000);
    logger.info({ passMs: Date.now() - started, sinceNoticedMs: noticedMs }, 'recovered from Redis data loss: every live task has a job');
    this.lostSince = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.opts.redis.off('ready', this.onReady);
    await this.running;
  }
}

/** What /readyz says while it answers "recovering". */
export const RECOVERING_REASON = 'Redis lost its data; live tasks are being queued again';

/**
 * Whether /readyz should answer "recovering": a worker is re-queueing live tasks, or Redis lost
 * its data and the deployment has live tasks waiting for their jobs (asked only then).
 */
export async function isRecovering(redis: Redis, prefix: string, hasLiveTasks: () => Promise<boolean>): Promise<boolean> {
  const marks = await readRecoveryMarks(redis, prefix);
  if (marks.recovering) return true;
  return !marks.epoch && (await hasLiveTasks());
}

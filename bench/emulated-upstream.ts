/**
 * The upstream of the benches that measure Reelay itself (bench/inflight, bench/batch): the
 * OpenAI-compatible emulator in a process of its own (its CPU is not Reelay's), one model `bench`
 * routed to it, the environment Reelay's processes get to reach it, and the clean-up of their queues
 * and of the rows of the keys a bench made.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTs, type Spawned } from '@reelay/testing';
import type { Db } from '@reelay/db';
import type { Redis } from 'ioredis';

const UPSTREAM_KEY = 'sk-bench-upstream-key-0000';

export interface EmulatedUpstream {
  process: Spawned;
  url: string;
  /** Stops the emulator and returns its request counts. */
  counts: () => Promise<unknown>;
}

/** Starts bench/inflight/emulator-server.ts; its tasks take `taskMs` (min, max) upstream. */
export async function startEmulatedUpstream(taskMs: { min: number; max: number }): Promise<EmulatedUpstream> {
  const emulator = spawnTs('bench/inflight/emulator-server.ts', {
    env: { ...process.env, BENCH_UPSTREAM_KEY: UPSTREAM_KEY, BENCH_TASK_MIN_MS: String(taskMs.min), BENCH_TASK_MAX_MS: String(taskMs.max) },
  });
  const url = (await emulator.waitFor(/^URL (\S+)$/m))[1]!;
  return {
    process: emulator,
    url,
    counts: async () => {
      emulator.child.kill('SIGTERM');
      return JSON.parse((await emulator.waitFor(/^COUNTS (.+)$/m))[1]!);
    },
  };
}

/**
 * Writes `dir`/models.json (one model, `bench`, on the emulator) and returns the environment of an
 * API or worker process using it, its own queue prefix and storage folder.
 */
export function emulatedStackEnv(o: { upstreamUrl: string; dir: string; databaseUrl: string; redisUrl: string; queuePrefix: string }): NodeJS.ProcessEnv {
  const catalog = join(o.dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'bench',
      models: [
        {
          id: 'bench',
          targets: [{ provider: 'openai-compatible', baseUrl: o.upstreamUrl, credentials: 'BENCH_UPSTREAM_KEY', upstreamModel: 'sora-2' }],
          duration: { values: [4] },
          size: { values: ['720x1280'] },
          fps: { values: [24] },
          defaults: { duration: 4, width: 720, height: 1280, fps: 24 },
          deadlineSeconds: 900,
        },
      ],
    }),
  );
  return {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    REELAY_QUEUE_PREFIX: o.queuePrefix,
    REELAY_STORAGE_DIR: join(o.dir, 'storage'),
    REELAY_MODELS_FILE: catalog,
    BENCH_UPSTREAM_KEY: UPSTREAM_KEY,
  };
}

/** Deletes every Redis key under the bench's queue prefix (SCAN, not KEYS); returns how many. */
export async function deleteQueueKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) removed += await redis.del(...keys);
  } while (cursor !== '0');
  return removed;
}

/** Deletes the bench keys and every row they own (task events go with their tasks). */
export async function deleteKeyRows(db: Db, keyIds: string[]): Promise<void> {
  for (const apiKeyId of keyIds) {
    await db.ledgerEntry.deleteMany({ where: { apiKeyId } });
    await db.task.deleteMany({ where: { apiKeyId } });
    await db.batch.deleteMany({ where: { apiKeyId } });
    await db.file.deleteMany({ where: { apiKeyId } });
    await db.apiKey.delete({ where: { id: apiKeyId } });
  }
}

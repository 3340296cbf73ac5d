/**
 * Content delivery: 32 concurrent downloads of one 50 MB stored video through a real Reelay API
 * process (GET /v1/videos/{id}/content with an API key, local-disk storage) against a bare Node
 * server streaming the same file with fs.createReadStream, same machine, same run, alternating
 * rounds. Each round: every client downloads the whole file ("full"), then the same bytes as
 * 8 sequential Range requests ("range"). Usage (from the repo root):
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reelay_bench npx tsx bench/content/run.ts [--rounds 3 --clients 32 --mb 50]
 *
 * The video is written into a throwaway storage folder and recorded as a completed task's output
 * (straight into Postgres, as bench/inflight does), so only the serving is measured. Everything
 * the bench created is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { newVideoId } from '../../packages/core/src';
import { createApiKey, createDatabaseIfMissing, createDb, migrate, recordTaskOutputs } from '../../packages/db/src';
import { LocalStorage, taskKeys } from '../../packages/storage/src';
import { freePort, spawnApi, spawnTs, untilHealthy } from '@reelay/testing';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 3);
const CLIENTS = arg('clients', 32);
const SIZE = arg('mb', 50) * 1024 * 1024;
const RANGES = 8;
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_bench';

/** Downloads `path` (optionally one byte range), reading and discarding the body; returns the bytes received. */
function download(agent: Agent, url: URL, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      if (res.statusCode !== 200 && res.statusCode !== 206) return reject(new Error(`${url} answered ${res.statusCode}`));
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** CLIENTS downloads at once; MB/s over the wall time of the whole batch. */
async function measure(target: { url: string; path: string; headers: Record<string, string> }, mode: 'full' | 'range'): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const url = new URL(target.url + target.path);
  const started = process.hrtime.bigint();
  const bytes = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      if (mode === 'full') return download(agent, url, target.headers);
      let n = 0;
      const step = Math.ceil(SIZE / RANGES);
      for (let s = 0; s < SIZE; s += step) n += await download(agent, url, { ...target.headers, range: `bytes=${s}-${Math.min(SIZE, s + step) - 1}` });
      return n;
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  const total = bytes.reduce((a, b) => a + b, 0);
  if (total !== CLIENTS * SIZE) throw new Error(`${target.url}: received ${total} bytes, expected ${CLIENTS * SIZE}`);
  return total / 1024 / 1024 / seconds;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  await createDatabaseIfMissing(DATABASE_URL);
  await migrate(DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'reelay-bench-content-'));
  const storageDir = join(dir, 'storage');
  const db = createDb(DATABASE_URL, 2);
  const { key, secret } = await createApiKey(db, { name: 'bench-content' });
  const id = newVideoId();
  const storage = new LocalStorage(storageDir);
  const videoKey = taskKeys.output(id, 0, 'video');
  const stored = await storage.put(
    videoKey,
    Readable.from(
      (function* () {
        for (let left = SIZE; left > 0; left -= 1024 * 1024) yield randomBytes(Math.min(left, 1024 * 1024));
      })(),
    ),
  );
  const now = new Date();
  await db.task.create({
    data: {
      id,
      apiKeyId: key.id,
      model: 'sora-1.0',
      provider: 'preview',
      prompt: 'bench content',
      durationSeconds: 4,
      width: 1280,
      height: 720,
      fps: 24,
      seed: BigInt(1),
      queuePrefix: `bench-content-${process.pid}`,
      status: 'completed',
      progress: 100,
      createdAt: now,
      completedAt: now,
      expiresAt: new Date(now.getTime() + 3600_000),
    },
  });
  await recordTaskOutputs(db, id, [
    { index: 0, variant: 'video', storageKey: videoKey, bytes: stored.bytes, contentType: 'video/mp4', checksum: stored.checksum },
  ]);

  const port = await freePort();
  const api = spawnApi({
    DATABASE_URL,
    PORT: String(port),
    REELAY_STORAGE_DIR: storageDir,
    REELAY_QUEUE_PREFIX: `bench-content-${process.pid}`,
    LOG_LEVEL: 'warn',
  });
  const bare = spawnTs('bench/content/bare-server.ts', { env: { ...process.env, BENCH_CONTENT_FILE: storage.pathOf(videoKey) } });
  const targets = {
    reelay: { url: `http://127.0.0.1:${port}`, path: `/v1/videos/${id}/content`, headers: { authorization: `Bearer ${secret}` } },
    bare: { url: (await bare.waitFor(/listening on (http:\/\/\S+)/))[1]!, path: '/video.mp4', headers: {} },
  };
  await untilHealthy(targets.reelay.url, 60_000);
  const results: Record<'reelay' | 'bare', Record<'full' | 'range', number[]>> = { reelay: { full: [], range: [] }, bare: { full: [], range: [] } };
  try {
    // Warm up both (JIT, page cache, key cache).
    for (const t of Object.values(targets)) await measure(t, 'range');
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? (['bare', 'reelay'] as const) : (['reelay', 'bare'] as const);
      for (const name of order) {
        for (const mode of ['full', 'range'] as const) {
          const mbps = await measure(targets[name], mode);
          results[name][mode].push(mbps);
          console.log(`round ${round} ${name.padEnd(6)} ${mode.padEnd(5)} ${mbps.toFixed(0)} MB/s`);
        }
      }
    }
  } finally {
    await api.stop('SIGTERM');
    await bare.stop('SIGTERM');
    await db.ledgerEntry.deleteMany({ where: { apiKeyId: key.id } });
    await db.task.deleteMany({ where: { apiKeyId: key.id } });
    await db.apiKey.delete({ where: { id: key.id } });
    await db.$disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(
    (['full', 'range'] as const).map((mode) => {
      const r = median(results.reelay[mode]);
      const b = median(results.bare[mode]);
      return [mode, { reelay_mb_s: Math.round(r), bare_mb_s: Math.round(b), ratio: Number((r / b).toFixed(2)) }];
    }),
  );
  console.log(JSON.stringify({ rounds: ROUNDS, clients: CLIENTS, mb: SIZE / 1024 / 1024, ...summary }, null, 2));
  console.log(`full: ${(summary.full!.ratio * 100).toFixed(0)}% of bare, range: ${(summary.range!.ratio * 100).toFixed(0)}% of bare (target >= 80%)`);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});

/**
 * Create/retrieve throughput of one real Reelay API process (no workers) against a bare Express app
 * answering the same routes, on the same machine, in one run: same body, same connections,
 * alternating rounds. Usage (from the repo root):
 *
 *   npm run bench:create [-- --rounds 5 --seconds 5 --connections 100]
 *
 * Uses DATABASE_URL / REDIS_URL like the server (migrating the database if needed), a bench-only
 * API key and queue prefix, and removes every row, job and file it created at the end.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { parseConfig } from '@reelay/config';
import { createDatabaseIfMissing, createDb, migrate } from '@reelay/db';
import { hashApiKey } from '@reelay/core';
import { QUEUE_NAMES } from '@reelay/queue';
import { freePort, spawnApi, spawnTs, untilHealthy } from '@reelay/testing';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 5);
const SECONDS = arg('seconds', 5);
// Throughput is compared with both servers saturated: at 10 connections the bare app is CPU-bound
// but the API is still waiting on its round trips (Redis, Postgres) part of the time, so req/s there
// measures latency. A batch backend keeps many more creates in flight than that.
const CONNECTIONS = arg('connections', 100);
const BODY = JSON.stringify({
  model: 'sora-1.0',
  prompt: 'A cute orange cat napping in the sunlight with wind gently blowing its fur',
  duration: 10,
  width: 1920,
  height: 1080,
  fps: 30,
  n: 1,
});

interface Sample {
  rps: number;
  p99: number;
  errors: number;
  cpuUsPerRequest: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function measure(url: string, method: 'POST' | 'GET', path: string, key: string | null, pid: number): Promise<Sample> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const cpuBefore = cpuSecondsOf(pid);
  const r = await autocannon({ url: url + path, method, headers, body: method === 'POST' ? BODY : undefined, connections: CONNECTIONS, duration: SECONDS });
  const cpu = cpuSecondsOf(pid) - cpuBefore;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    errors: r.non2xx + r.errors + r.timeouts,
    cpuUsPerRequest: (cpu * 1e6) / Math.max(1, r.requests.total),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const prefix = `bench-${process.pid}`;
  const storage = mkdtempSync(join(tmpdir(), 'reelay-bench-'));
  const key = `rly_bench_${process.pid}_${Date.now()}_xxxxxxxxxxxxxxxx`;
  const config = parseConfig({ ...process.env, REELAY_QUEUE_PREFIX: prefix });
  await createDatabaseIfMissing(config.DATABASE_URL);
  await migrate(config.DATABASE_URL);

  // The API logs at warn here (no per-request lines) and so does not print its address: give it a port.
  const port = await freePort();
  const api = {
    url: `http://127.0.0.1:${port}`,
    child: spawnApi(
      { PORT: String(port), HOST: '127.0.0.1', REELAY_QUEUE_PREFIX: prefix, REELAY_STORAGE_DIR: storage, REELAY_BOOTSTRAP_KEY: key, LOG_LEVEL: 'warn' },
      // BENCH_API_NODE_FLAGS profiles the API, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--heap-prof --heap-prof-dir=/tmp/prof".
      { nodeFlags: process.env.BENCH_API_NODE_FLAGS?.split(' ').filter(Boolean), inheritOutput: true },
    ).child,
  };
  await untilHealthy(api.url, 30_000);
  const bareServer = spawnTs('bench/create/bare-server.ts');
  const bare = { child: bareServer.child, url: (await bareServer.waitFor(/listening on (http:\/\/\S+)/))[1]! };
  const db = createDb(config.DATABASE_URL, 2);
  const results = { api: { create: [] as Sample[], retrieve: [] as Sample[] }, bare: { create: [] as Sample[], retrieve: [] as Sample[] } };
  try {
    const first = await fetch(`${api.url}/v1/videos`, {
      method: 'POST',
      body: BODY,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    const id = ((await first.json()) as { id: string }).id;
    // Warm both up (JIT, connection pools, key cache) before measuring.
    for (const [url, auth, pid] of [
      [api.url, key, api.child.pid!],
      [bare.url, null, bare.child.pid!],
    ] as const) {
      await measure(url, 'POST', '/v1/videos', auth, pid);
      await measure(url, 'GET', `/v1/videos/${id}`, auth, pid);
    }

    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? (['bare', 'api'] as const) : (['api', 'bare'] as const);
      for (const target of order) {
        const { url, child } = target === 'api' ? api : bare;
        const auth = target === 'api' ? key : null;
        const c = await measure(url, 'POST', '/v1/videos', auth, child.pid!);
        const g = await measure(url, 'GET', `/v1/videos/${id}`, auth, child.pid!);
        results[target].create.push(c);
        results[target].retrieve.push(g);
        console.log(
          `round ${round} ${target.padEnd(4)} create ${c.rps.toFixed(0)} req/s p99 ${c.p99} ms cpu ${c.cpuUsPerRequest.toFixed(0)} us/req (errors ${c.errors}) | ` +
            `retrieve ${g.rps.toFixed(0)} req/s p99 ${g.p99} ms cpu ${g.cpuUsPerRequest.toFixed(0)} us/req (errors ${g.errors})`,
        );
      }
    }
  } finally {
    api.child.removeAllListeners('exit');
    bare.child.removeAllListeners('exit');
    api.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    // Clean up: the bench key's rows, its queue, its files.
    const k = await db.apiKey.findUnique({ where: { keyHash: hashApiKey(key) } });
    if (k) {
      await db.ledgerEntry.deleteMany({ where: { apiKeyId: k.id } }); // the reservations the creates made
      const deleted = await db.task.deleteMany({ where: { apiKeyId: k.id } });
      await db.apiKey.delete({ where: { id: k.id } });
      console.log(`cleanup: removed ${deleted.count} bench tasks and the bench key`);
    }
    for (const name of Object.values(QUEUE_NAMES)) {
      const q = new Queue(name, { connection: { url: config.REDIS_URL }, prefix });
      await q.obliterate({ force: true });
      await q.close();
    }
    await db.$disconnect();
    rmSync(storage, { recursive: true, force: true });
  }

  const m = (xs: Sample[], f: (s: Sample) => number) => median(xs.map(f));
  const row = (name: 'create' | 'retrieve') => {
    const a = results.api[name];
    const b = results.bare[name];
    return {
      api_rps: m(a, (s) => s.rps),
      bare_rps: m(b, (s) => s.rps),
      rps_ratio: m(a, (s) => s.rps) / m(b, (s) => s.rps),
      api_p99_ms: m(a, (s) => s.p99),
      bare_p99_ms: m(b, (s) => s.p99),
      p99_ratio:
        m(a, (s) => s.p99) /
        Math.max(
          1,
          m(b, (s) => s.p99),
        ),
      // The server's own CPU per request (user + system), so a change can be judged apart from the machine's noise.
      api_cpu_us_per_request: m(a, (s) => s.cpuUsPerRequest),
      bare_cpu_us_per_request: m(b, (s) => s.cpuUsPerRequest),
      errors: a.reduce((n, s) => n + s.errors, 0) + b.reduce((n, s) => n + s.errors, 0),
    };
  };
  const summary = { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, create: row('create'), retrieve: row('retrieve') };
  console.log(JSON.stringify(summary, null, 2));
  console.log(
    `create: ${(summary.create.rps_ratio * 100).toFixed(0)}% of bare (target >= 50%), p99 ${summary.create.p99_ratio.toFixed(1)}x (target <= 5x); ` +
      `retrieve: ${(summary.retrieve.rps_ratio * 100).toFixed(0)}% of bare (target >= 70%), p99 ${summary.retrieve.p99_ratio.toFixed(1)}x`,
  );
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});

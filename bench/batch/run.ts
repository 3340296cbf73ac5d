/**
 * Batch bench: one real API and one real worker process on their own database, an instant
 * OpenAI-compatible emulator upstream (tasks finish at once, so rendering cost does not count).
 *
 * 1. Baseline: an interactive series (one POST /v1/videos every --interval ms, --interactive of
 *    them, from a second key) with no batch running; time-to-start = create sent → task started_at
 *    (submitted upstream).
 * 2. Uploads a --lines (default 50,000) line JSONL file through POST /v1/files, creates the batch
 *    and times validation + task creation: batch create → status in_progress with
 *    request_counts.total == lines. The same interactive series runs from the batch create on.
 * 3. Samples the API's and the worker's RSS (/proc/<pid>/status VmRSS) before and during.
 * While the series runs it prints the task queue's job counts every second, and after it each
 * interactive create's send time and its three steps (API / admission / submit, ms).
 * Then cancels the batch, stops both processes and removes everything it made.
 *
 *   npm run bench:batch [-- --lines 50000 --interactive 50 --interval 200]
 *
 * DATABASE_URL defaults to postgresql://postgres@127.0.0.1:5432/reelay_bench_batch (created and
 * migrated here); REDIS_URL to redis://127.0.0.1:6379 (a bench-only queue prefix).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, createDatabaseIfMissing, createDb, migrate } from '@reelay/db';
import { createRedis, createTasksQueue } from '@reelay/queue';
import { freePort, spawnApi, spawnTs, until, type Spawned, untilHealthy } from '@reelay/testing';
import { deleteKeyRows, deleteQueueKeys, emulatedStackEnv, startEmulatedUpstream } from '../emulated-upstream';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const LINES = arg('lines', 50_000);
const INTERACTIVE = arg('interactive', 50);
const INTERVAL_MS = arg('interval', 200);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_bench_batch';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TARGET = { linesPerSecond: 5000, rssGrowthMB: 150, p99Ratio: 2 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
const p50p99 = (xs: number[]): [number, number] => [pct(xs, 50), pct(xs, 99)];
/** Resident set size of a process in MB, from /proc (Linux); NaN once it has gone. */
function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Samples RSS of the given processes every 100 ms until stopped; keeps each one's peak. */
function rssSampler(pids: Record<string, number>) {
  const peak: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  const timer = setInterval(() => {
    for (const [k, pid] of Object.entries(pids)) peak[k] = Math.max(peak[k]!, rssMB(pid) || 0);
  }, 100);
  return { peak, stop: () => clearInterval(timer) };
}

async function main(): Promise<void> {
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (${LINES} lines, ${INTERACTIVE} interactive creates every ${INTERVAL_MS} ms)`,
  );
  await createDatabaseIfMissing(DATABASE_URL);
  await migrate(DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'reelay-bench-batch-'));
  const prefix = `bench-batch-${process.pid}`;
  const db = createDb(DATABASE_URL, 2);
  const redis = createRedis(REDIS_URL, 'api');
  // Each run inserts and deletes 50,000 tasks: without a vacuum in between (autovacuum may be off,
  // as on the machines of docs/benchmarks.md), every run scans the dead rows of all the earlier ones.
  const [{ autovacuum }] = await db.$queryRaw<[{ autovacuum: string }]>`SELECT current_setting('autovacuum') AS autovacuum`;
  await db.$executeRawUnsafe('VACUUM (ANALYZE) tasks, ledger_entries, task_events, batches, files');
  console.log(`vacuumed the bench database first (autovacuum: ${autovacuum})`);
  const processes: Spawned[] = [];
  const keyIds: string[] = [];
  try {
    // Tasks that end at once upstream.
    const emulator = await startEmulatedUpstream({ min: 0, max: 0 });
    processes.push(emulator.process);
    const batchKey = await createApiKey(db, { name: 'bench-batch', statusDialect: null });
    const interactiveKey = await createApiKey(db, { name: 'bench-batch-interactive', statusDialect: null });
    keyIds.push(batchKey.key.id, interactiveKey.key.id);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...emulatedStackEnv({ upstreamUrl: emulator.url, dir, databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, queuePrefix: prefix }),
      LOG_LEVEL: 'warn',
    };
    const api = spawnApi({ ...env, PORT: String(port), HOST: '127.0.0.1' }, { inheritOutput: true });
    processes.push(api);
    const worker = spawnTs('apps/worker/src/main.ts', { env: { ...env, WORKER_METRICS_PORT: '0' }, inheritOutput: true });
    processes.push(worker);
    await untilHealthy(url, 60_000);
    const apiPid = api.child.pid!;
    const workerPid = worker.child.pid!;

    const call = async (secret: string, method: string, path: string, body?: unknown): Promise<any> => {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = await res.json();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };

    /** Where an interactive task's time-to-start went: send → created_at (API), → admitted_at, → started_at (submit). */
    interface Steps {
      api: number;
      admission: number;
      submit: number;
    }
    const steps: Record<string, Steps[]> = {};
    /** One interactive create every INTERVAL_MS; each one's time-to-start from the task's started_at. */
    const interactiveSeries = async (label: string): Promise<number[]> => {
      const sent: { id: string; at: number }[] = [];
      const creates: Promise<void>[] = [];
      const t0 = Date.now();
      for (let i = 0; i < INTERACTIVE; i++) {
        await sleep(Math.max(0, t0 + i * INTERVAL_MS - Date.now()));
        const at = Date.now();
        creates.push(
          call(interactiveKey.secret, 'POST', '/v1/videos', { model: 'bench', prompt: `${label} ${i}` }).then(
            (v: { id: string }) => void sent.push({ id: v.id, at }),
          ),
        );
      }
      await Promise.all(creates);
      const ids = sent.map((s) => s.id);
      const rows = await until(
        `${label}: all interactive tasks started`,
        async () => {
          const r = await db.task.findMany({ where: { id: { in: ids } }, select: { id: true, createdAt: true, admittedAt: true, startedAt: true } });
          return r.every((t) => t.startedAt) ? r : null;
        },
        300_000,
        100,
      );
      const startedAt = new Map(rows.map((r) => [r.id, r.startedAt!.getTime()]));
      const sentAt = new Map(sent.map((s) => [s.id, s.at]));
      steps[label] = rows.map((r) => ({
        api: r.createdAt.getTime() - sentAt.get(r.id)!,
        admission: r.admittedAt!.getTime() - r.createdAt.getTime(),
        submit: r.startedAt!.getTime() - r.admittedAt!.getTime(),
      }));
      if (label === 'during') {
        const byId = new Map(rows.map((r) => [r.id, r]));
        const offsets = sent.map((s) => {
          const r = byId.get(s.id)!;
          return `+${((s.at - t0) / 1000).toFixed(1)}s ${r.createdAt.getTime() - s.at}/${r.admittedAt!.getTime() - r.createdAt.getTime()}/${r.startedAt!.getTime() - r.admittedAt!.getTime()}`;
        });
        console.log(`during, each create sent at: api/admission/submit ms\n${offsets.join('  ')}`);
      }
      return sent.map((s) => startedAt.get(s.id)! - s.at);
    };

    // Warm-up (JIT, pools, caches), then the baseline with no batch.
    await interactiveSeries('warm-up');
    const baseline = await interactiveSeries('baseline');

    const lines =
      Array.from({ length: LINES }, (_, i) =>
        JSON.stringify({ custom_id: `line-${i + 1}`, method: 'POST', url: '/v1/videos', body: { model: 'bench', prompt: `batch clip ${i + 1}` } }),
      ).join('\n') + '\n';
    const rssBefore = { api: rssMB(apiPid), worker: rssMB(workerPid) };
    const sampler = rssSampler({ api: apiPid, worker: workerPid });

    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([lines]), 'requests.jsonl');
    const uploadStart = Date.now();
    const upload = await fetch(`${url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${batchKey.secret}` }, body: form });
    const file = (await upload.json()) as { id: string; bytes: number };
    if (!upload.ok) throw new Error(`upload: ${upload.status} ${JSON.stringify(file)}`);
    const uploadMs = Date.now() - uploadStart;

    const createdAt = Date.now();
    const batch = await call(batchKey.secret, 'POST', '/v1/batches', { input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
    const during = interactiveSeries('during');
    // The task queue's jobs every second while the series runs: interactive jobs (no priority) sit
    // in `wait`, batch ones in `prioritized`; `active` is at most WORKER_CONCURRENCY.
    const tasksQueue = createTasksQueue(redis, prefix);
    let sampling = true;
    const jobSamples = (async () => {
      while (sampling) {
        const c = await tasksQueue.getJobCounts('active', 'wait', 'prioritized', 'delayed');
        console.log(
          `t+${((Date.now() - createdAt) / 1000).toFixed(1)}s jobs active=${c.active} wait=${c.wait} prioritized=${c.prioritized} delayed=${c.delayed}`,
        );
        await sleep(1000);
      }
    })();
    let slowestRetrieveMs = 0;
    const inProgress = await until(
      'the batch to be in_progress with every task created',
      async () => {
        const t = Date.now();
        const b = await call(batchKey.secret, 'GET', `/v1/batches/${batch.id}`);
        slowestRetrieveMs = Math.max(slowestRetrieveMs, Date.now() - t);
        if (['failed', 'cancelled', 'expired'].includes(b.status)) throw new Error(`batch ended ${b.status}: ${JSON.stringify(b.errors)}`);
        return b.status !== 'validating' && b.request_counts.total === LINES ? b : null;
      },
      600_000,
      100,
    );
    const validationMs = Date.now() - createdAt;
    const duringSeries = await during;
    sampling = false;
    await jobSamples;
    await tasksQueue.close();
    sampler.stop();
    const doneAtEnd = await call(batchKey.secret, 'GET', `/v1/batches/${batch.id}`);

    // Cancel the rest; the bench does not wait for every task to finish.
    const cancelStart = Date.now();
    await call(batchKey.secret, 'POST', `/v1/batches/${batch.id}/cancel`);
    const cancelled = await until(
      'the batch to be cancelled',
      async () => {
        const b = await call(batchKey.secret, 'GET', `/v1/batches/${batch.id}`);
        return b.status === 'cancelled' ? b : null;
      },
      120_000,
      250,
    ).catch(() => null);
    const cancelMs = Date.now() - cancelStart;

    const b50 = pct(baseline, 50);
    const b99 = pct(baseline, 99);
    const d50 = pct(duringSeries, 50);
    const d99 = pct(duringSeries, 99);
    const growth = { api: sampler.peak.api! - rssBefore.api, worker: sampler.peak.worker! - rssBefore.worker };
    const linesPerSecond = LINES / (validationMs / 1000);
    const summary = {
      lines: LINES,
      fileMB: Math.round(file.bytes / 1e5) / 10,
      uploadMs,
      validationAndTaskCreationMs: validationMs,
      linesPerSecond: Math.round(linesPerSecond),
      statusWhenCounted: inProgress.status,
      // The batch's own timestamps (seconds): create → in_progress as the worker recorded it.
      serverValidationSeconds: inProgress.in_progress_at - inProgress.created_at,
      slowestBatchRetrieveMs: slowestRetrieveMs,
      rssMB: {
        api: { before: Math.round(rssBefore.api), peak: Math.round(sampler.peak.api!), growth: Math.round(growth.api) },
        worker: { before: Math.round(rssBefore.worker), peak: Math.round(sampler.peak.worker!), growth: Math.round(growth.worker) },
      },
      timeToStartMs: { baseline: { p50: b50, p99: b99 }, duringBatch: { p50: d50, p99: d99 }, p50Ratio: round2(d50 / b50), p99Ratio: round2(d99 / b99) },
      // p50 / p99 of each step of an interactive task's time to start.
      stepsMs: Object.fromEntries(
        ['baseline', 'during'].map((label) => [
          label,
          Object.fromEntries((['api', 'admission', 'submit'] as const).map((k) => [k, p50p99(steps[label]!.map((x) => x[k]))])),
        ]),
      ),
      requestCountsWhenSeriesEnded: doneAtEnd.request_counts,
      cancel: cancelled ? { ms: cancelMs, requestCounts: cancelled.request_counts } : 'not cancelled within 120 s',
      loadAverageAtEnd: loadavg().map((l) => round2(l)),
    };
    const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
    const rows: [string, string, string, string][] = [
      [
        'validation + task creation',
        `${validationMs} ms = ${Math.round(linesPerSecond)} lines/s`,
        `>= ${TARGET.linesPerSecond} lines/s`,
        verdict(linesPerSecond >= TARGET.linesPerSecond),
      ],
      [
        'API RSS peak growth',
        `${growth.api.toFixed(0)} MB (${rssBefore.api.toFixed(0)} → ${sampler.peak.api!.toFixed(0)})`,
        `<= ${TARGET.rssGrowthMB} MB`,
        verdict(growth.api <= TARGET.rssGrowthMB),
      ],
      ['cancel (POST cancel → cancelled)', cancelled ? `${cancelMs} ms` : 'not cancelled within 120 s', '(info)', ''],
      ['worker RSS peak growth', `${growth.worker.toFixed(0)} MB (${rssBefore.worker.toFixed(0)} → ${sampler.peak.worker!.toFixed(0)})`, '(info)', ''],
      ['interactive start p50', `${d50} ms vs ${b50} ms baseline = ${(d50 / b50).toFixed(2)}x`, '(info)', ''],
      [
        'interactive start p99',
        `${d99} ms vs ${b99} ms baseline = ${(d99 / b99).toFixed(2)}x`,
        `<= ${TARGET.p99Ratio}x`,
        verdict(d99 / b99 <= TARGET.p99Ratio),
      ],
    ];
    console.log(JSON.stringify(summary, null, 2));
    const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length), ['measure', 'figure', 'target'][c]!.length));
    const line = (r: string[]) => `| ${r.map((x, i) => (i < 3 ? x.padEnd(w[i]!) : x)).join(' | ')} |`;
    console.log(line(['measure', 'figure', 'target', 'verdict']));
    console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|---------|`);
    for (const r of rows) console.log(line(r));
  } finally {
    for (const p of processes.reverse()) {
      p.child.removeAllListeners('exit');
      await Promise.race([p.stop('SIGTERM'), sleep(15_000)]);
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    // Remove what the bench made: its keys' rows, its queue keys, its files.
    await deleteKeyRows(db, keyIds);
    const removed = await deleteQueueKeys(redis, prefix);
    console.log(`cleanup: removed the rows of ${keyIds.length} bench keys, ${removed} Redis keys under ${prefix}:, ${dir}`);
    redis.disconnect();
    await db.$disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * POST→completed latency of one task, end to end through a real API process and a real worker
 * process (the compiled bundles, as the image runs them), against:
 * - an OpenAI-style upstream that finishes at once, found by polling;
 * - a Replicate-style upstream that finishes at once and says so by webhook;
 * - the built-in preview renderer (a 1 s 64x64 clip), with the render time subtracted;
 * and, in the same run, a bare loop that makes the same HTTP calls (POST, then GET until it says
 * completed) to a server that answers "completed" at once: the cost of the calls themselves.
 * Then a burst of 24 tiny preview tasks sent at once, against 1.5 × (24 × render ÷ slots) + 1 s,
 * watched by listing the key's tasks every 20 ms.
 *
 * The client polls GET /v1/videos/{id} every 5 ms, so a figure is at most ~5 ms late.
 * Render time is the median of running the renderer's own ffmpeg command for the same clip
 * directly, in this run. Usage (from the repo root, after `pnpm run build`):
 *
 *   npm run bench:latency [-- --tasks 30]
 *
 * Uses DATABASE_URL / REDIS_URL like the server (migrating the database if needed), its own queue
 * prefix, API key and storage folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '@reelay/config';
import { createApiKey, createDatabaseIfMissing, createDb, migrate } from '@reelay/db';
import {
  freePort,
  OpenAIVideosEmulator,
  ReplicateEmulator,
  ROOT,
  spawnProcess,
  testMp4,
  type LoggedRequest,
  type Spawned,
  untilHealthy,
} from '@reelay/testing';
import { planOutput } from '../../packages/providers/src';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const TASKS = arg('tasks', 30);
const BURST = 24;
const SLOTS = 2;
const CLIENT_POLL_MS = 5;
const BURST_POLL_MS = 20;
const REPLICATE_TOKEN = 'r8_bench_latency_token_0123';
const OPENAI_KEY = 'sk-bench-latency-0000';
const PREVIEW = { model: 'preview-tiny', prompt: 'latency', duration: 1, width: 64, height: 64, fps: 10 };

/** A Replicate upstream whose predictions finish right after the create answers, calling back then. */
class InstantReplicate extends ReplicateEmulator {
  protected override async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    const before = new Set(this.predictions.keys());
    await super.handle(req, res);
    for (const id of this.predictions.keys()) if (!before.has(id)) setImmediate(() => void this.complete(id).catch(() => undefined));
  }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]): number => pct(xs, 50);

/** POST one task, then GET it until it ends: milliseconds from the POST to the answer saying completed. */
async function timeOne(url: string, key: string, body: Record<string, unknown>): Promise<number> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const t0 = performance.now();
  const created = await fetch(`${url}/v1/videos`, { method: 'POST', headers, body: JSON.stringify(body) });
  const video = (await created.json()) as { id: string; status: string };
  if (!created.ok) throw new Error(`POST /v1/videos answered ${created.status}: ${JSON.stringify(video)}`);
  let status = video.status;
  while (status !== 'completed') {
    if (status === 'failed') throw new Error(`task ${video.id} failed`);
    await new Promise((r) => setTimeout(r, CLIENT_POLL_MS));
    const res = await fetch(`${url}/v1/videos/${video.id}`, { headers });
    status = ((await res.json()) as { status: string }).status;
  }
  return performance.now() - t0;
}

/**
 * POSTs every body at once, then lists the key's newest tasks every BURST_POLL_MS until all of
 * them are completed: milliseconds from the first POST to the list that showed the last one
 * completed. One list call per pass, not a client per task polling every 5 ms: that many clients
 * took a core of the two the renders are measured on.
 */
async function timeBurst(url: string, key: string, bodies: Record<string, unknown>[]): Promise<number> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const t0 = performance.now();
  const ids = await Promise.all(
    bodies.map(async (body) => {
      const created = await fetch(`${url}/v1/videos`, { method: 'POST', headers, body: JSON.stringify(body) });
      const video = (await created.json()) as { id: string };
      if (!created.ok) throw new Error(`POST /v1/videos answered ${created.status}: ${JSON.stringify(video)}`);
      return video.id;
    }),
  );
  for (;;) {
    const page = (await (await fetch(`${url}/v1/videos?limit=100`, { headers })).json()) as { data: { id: string; status: string }[] };
    const status = new Map(page.data.map((v) => [v.id, v.status]));
    const failed = ids.find((id) => status.get(id) === 'failed');
    if (failed) throw new Error(`task ${failed} failed`);
    if (ids.every((id) => status.get(id) === 'completed')) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, BURST_POLL_MS));
  }
}

/** Answers POST /v1/videos and GET /v1/videos/{id} with a completed video at once. */
function bareServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'vid_bare', object: 'video', status: 'completed', progress: 100 }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })),
  );
}

/** Median wall time of the renderer's ffmpeg command for the bench clip, run directly. */
function renderMs(ffmpeg: string, dir: string, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const spec = { prompt: PREVIEW.prompt, imageFile: null, durationSeconds: 1, width: 64, height: 64, fps: 10, seed: i, n: 1 };
    const plan = planOutput(spec, 0, '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', 'out.mp4', 'progress.txt');
    for (const [name, text] of Object.entries(plan.textFiles)) writeFileSync(join(dir, name), text);
    const t0 = performance.now();
    const r = spawnSync(ffmpeg, plan.args, { cwd: dir, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`ffmpeg exited ${r.status}`);
    times.push(performance.now() - t0);
  }
  return median(times);
}

const row = (name: string, xs: number[], minus = 0) =>
  `${name.padEnd(44)} ${(median(xs) - minus).toFixed(0).padStart(7)} ${(pct(xs, 99) - minus).toFixed(0).padStart(7)}`;

async function main(): Promise<void> {
  for (const role of ['api', 'worker']) {
    if (!existsSync(join(ROOT, `apps/${role}/dist/main.js`))) throw new Error(`apps/${role}/dist/main.js is missing: run pnpm run build first`);
  }
  const config = parseConfig(process.env);
  await createDatabaseIfMissing(config.DATABASE_URL);
  await migrate(config.DATABASE_URL);
  const dir = mkdtempSync(join(tmpdir(), 'reelay-bench-latency-'));
  const openai = new OpenAIVideosEmulator({ apiKey: OPENAI_KEY, behaviour: { queuedMs: 0, taskMs: 1 } });
  const replicate = new InstantReplicate({ token: REPLICATE_TOKEN, video: testMp4({ width: 64, height: 64, fps: 10, seconds: 1 }), mode: 'manual' });
  await openai.start();
  await replicate.start();
  const bare = await bareServer();
  const shape = { duration: { min: 1, max: 4 }, size: { values: ['64x64'] }, fps: { values: [10] }, defaults: { duration: 1, width: 64, height: 64, fps: 10 } };
  const catalog = join(dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'preview-tiny',
      models: [
        { id: 'preview-tiny', targets: [{ provider: 'preview' }], ...shape },
        {
          id: 'instant-poll',
          targets: [{ provider: 'openai-compatible', upstreamModel: 'sora-2', baseUrl: openai.url, credentials: 'BENCH_OPENAI_KEY' }],
          ...shape,
        },
        {
          id: 'instant-webhook',
          targets: [{ provider: 'replicate', upstreamModel: 'acme/video', baseUrl: replicate.url, credentials: 'BENCH_REPLICATE_TOKEN' }],
          ...shape,
        },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: String(port),
    WORKER_METRICS_PORT: '0',
    REELAY_PUBLIC_URL: url,
    REELAY_QUEUE_PREFIX: `bench-latency-${process.pid}`,
    REELAY_STORAGE_DIR: join(dir, 'storage'),
    REELAY_MODELS_FILE: catalog,
    WORKER_RENDER_SLOTS: String(SLOTS),
    BENCH_OPENAI_KEY: OPENAI_KEY,
    BENCH_REPLICATE_TOKEN: REPLICATE_TOKEN,
  };
  const procs: Spawned[] = [];
  const db = createDb(config.DATABASE_URL, 2);
  try {
    procs.push(spawnProcess(process.execPath, ['apps/api/dist/main.js'], { env }));
    procs.push(spawnProcess(process.execPath, ['apps/worker/dist/main.js'], { env }));
    await untilHealthy(url, 60_000, 50);
    const { secret: key } = await createApiKey(db, { name: 'bench-latency', statusDialect: null });
    const renderDir = join(dir, 'render');
    mkdirSync(renderDir);
    const render = renderMs(config.FFMPEG_PATH, renderDir, 10);

    // Warm up every path (first connections, JIT), then measure in interleaved rounds.
    for (const model of ['instant-poll', 'instant-webhook', 'preview-tiny']) await timeOne(url, key, { ...PREVIEW, model });
    const samples = { bare: [] as number[], poll: [] as number[], webhook: [] as number[], preview: [] as number[] };
    for (let i = 0; i < TASKS; i++) {
      samples.bare.push(await timeOne(bare.url, key, PREVIEW));
      samples.poll.push(await timeOne(url, key, { ...PREVIEW, model: 'instant-poll' }));
      samples.webhook.push(await timeOne(url, key, { ...PREVIEW, model: 'instant-webhook' }));
      samples.preview.push(await timeOne(url, key, PREVIEW));
    }

    const burstMs = await timeBurst(
      url,
      key,
      Array.from({ length: BURST }, (_, i) => ({ ...PREVIEW, prompt: `burst ${i}` })),
    );
    const burstTarget = 1.5 * ((BURST * render) / SLOTS) + 1000;

    const bareP50 = median(samples.bare);
    console.log(`tasks per path: ${TASKS}; client polls every ${CLIENT_POLL_MS} ms; render of a 1 s 64x64 clip: ${render.toFixed(0)} ms (median of 10)`);
    console.log(`${'path'.padEnd(44)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}`);
    console.log(row('bare loop (same HTTP calls, answered at once)', samples.bare));
    console.log(row('instant upstream, by polling', samples.poll));
    console.log(row('instant upstream, by webhook', samples.webhook));
    console.log(row('preview render, render time subtracted', samples.preview, render));
    console.log(
      `overhead beyond the bare loop: polling ${(median(samples.poll) - bareP50).toFixed(0)} ms, webhook ${(median(samples.webhook) - bareP50).toFixed(0)} ms, preview ${(median(samples.preview) - render - bareP50).toFixed(0)} ms (p50)`,
    );
    console.log(
      `burst of ${BURST} previews on ${SLOTS} slots: all done in ${burstMs.toFixed(0)} ms (target ${burstTarget.toFixed(0)} ms = 1.5 × ${BURST} × ${render.toFixed(0)} ÷ ${SLOTS} + 1000)`,
    );
  } finally {
    for (const p of procs) await p.stop('SIGTERM');
    await db.$disconnect();
    await openai.close();
    await replicate.close();
    bare.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { http, OpenAIVideosEmulator, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * A worker process killed with SIGKILL while it holds a task's job (its poll is hanging at the
 * upstream): another worker takes the job over once the lock lapses, with the production lock and
 * stall settings, and the task completes with one upstream submit.
 */
const ROOT = resolve(__dirname, '../..');
const KEY = 'sk-upstream-takeover-0123456789';
let emu: OpenAIVideosEmulator;
let stack: Stack;
let dir: string;
let models: string;
const children: ChildProcess[] = [];

/** A worker process with the default WORKER_LOCK_MS / WORKER_STALLED_INTERVAL_MS; resolves its ops URL once started. */
function spawnWorker(): { child: ChildProcess; opsUrl: Promise<string>; output: () => string } {
  const c = stack.config;
  const env = {
    ...process.env,
    DATABASE_URL: c.DATABASE_URL,
    REDIS_URL: c.REDIS_URL,
    REELAY_QUEUE_PREFIX: c.REELAY_QUEUE_PREFIX,
    REELAY_STORAGE_DIR: c.REELAY_STORAGE_DIR,
    REELAY_MODELS_FILE: models,
    UPSTREAM_KEY_TAKEOVER: KEY,
    POLL_MIN_MS: '200',
    POLL_MAX_MS: '500',
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let announce: (url: string) => void;
  const opsUrl = new Promise<string>((r) => (announce = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const started = /"ops":"(http:\/\/[^"]+)"[^\n]*"msg":"worker started"/.exec(out);
    if (started) announce(started[1]!);
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, opsUrl, output: () => out };
}

const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

beforeAll(async () => {
  emu = new OpenAIVideosEmulator({ apiKey: KEY, behaviour: { taskMs: 3000, queuedMs: 100 } });
  await emu.start();
  dir = mkdtempSync(join(tmpdir(), 'reelay-takeover-'));
  models = join(dir, 'models.json');
  const model = {
    id: 'emulated',
    targets: [{ provider: 'openai-compatible', baseUrl: emu.url, credentials: 'UPSTREAM_KEY_TAKEOVER', upstreamModel: 'sora-2' }],
    duration: { min: 1, max: 20 },
    size: { width: { min: 64, max: 1920 }, height: { min: 64, max: 1920 } },
    fps: { values: [12, 24] },
    maxN: 1,
    defaults: { duration: 1, width: 128, height: 128, fps: 12 },
  };
  writeFileSync(models, JSON.stringify({ defaultModel: 'emulated', models: [model] }));
  stack = await startStack({ REELAY_MODELS_FILE: models, UPSTREAM_KEY_TAKEOVER: KEY }, { worker: false });
});

afterAll(async () => {
  for (const c of children) {
    c.kill('SIGKILL');
    await exited(c);
  }
  await stack?.close();
  await emu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kill -9 of the worker holding a job: another worker resumes it within the lock + stall window and the task completes once', async () => {
  const first = spawnWorker();
  await first.opsUrl;
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: 'takeover', duration: 1, width: 128, height: 128, fps: 12 } });
  expect(created.status).toBe(200);
  const id = created.body.id as string;
  await until('the task to be submitted upstream', async () => emu.acceptedTasks === 1);
  const upstreamId = (await until('the upstream id to be stored', async () => (await stack.db.task.findUniqueOrThrow({ where: { id } })).upstreamId))!;

  // The first worker's next poll hangs: it holds the job (and renews its lock) until it dies.
  emu.hangNext(1, 'retrieve');
  const polls = () => emu.calls('retrieve').filter((r) => r.path.includes(upstreamId));
  await until('a poll to hang', () => polls().some((r) => r.status === 0));
  const second = spawnWorker();
  await second.opsUrl;

  const hung = polls().length;
  const killedAt = Date.now();
  first.child.kill('SIGKILL');
  await exited(first.child);
  await until('the second worker to poll the task', () => polls().length > hung, 60_000);
  const resumedAfter = (polls()[hung]!.at - killedAt) / 1000;
  const { WORKER_LOCK_MS: lock, WORKER_STALLED_INTERVAL_MS: stall } = stack.config;
  process.stdout.write(`job of a SIGKILLed worker resumed by another after ${resumedAfter.toFixed(2)} s (lock ${lock} ms, stalled check every ${stall} ms)\n`);

  const { video } = await waitForVideo(stack, stack.key, id, 60_000);
  expect(video.status).toBe('completed');
  // One upstream submit in all, and one set of outputs.
  expect(emu.calls('create')).toHaveLength(1);
  expect(emu.acceptedTasks).toBe(1);
  const outputs = await stack.db.taskOutput.findMany({ where: { taskId: id } });
  expect(outputs.filter((o) => o.variant === 'video')).toHaveLength(1);
  // The takeover was a stall, seen and counted by the worker that ran the check.
  const metrics = await (await fetch(`${await second.opsUrl}/metrics`)).text();
  expect(metrics).toMatch(/^reelay_queue_events_total\{queue="video-tasks",event="stalled"\} [1-9]/m);
  expect(second.output()).toContain('job stalled');
});

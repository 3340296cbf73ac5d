import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { http, startStack, waitForVideo, type Stack, until } from './harness';
import { probe } from './media';

const ROOT = resolve(__dirname, '../..');
let stack: Stack;

/** A real worker process (not in-process), so it can be killed with SIGKILL. */
function spawnWorker(): ChildProcess {
  const c = stack.config;
  const env = {
    ...process.env,
    DATABASE_URL: c.DATABASE_URL,
    REDIS_URL: c.REDIS_URL,
    REELAY_QUEUE_PREFIX: c.REELAY_QUEUE_PREFIX,
    REELAY_STORAGE_DIR: c.REELAY_STORAGE_DIR,
    POLL_MIN_MS: '200',
    POLL_MAX_MS: '500',
    WORKER_LOCK_MS: '3000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    // Takeover here is BullMQ's stalled-job check. Its reconciler stays off: with a 3 s lock its
    // quiet window is 6 s, and it would adopt other test files' tasks from the shared database
    // (a long finalize looks quiet) and fail them, since their renders live in other folders.
    WORKER_RECONCILE_INTERVAL_MS: '3600000',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], { cwd: ROOT, env, stdio: 'ignore' });
  return child;
}


const killed = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

async function renderingTask(): Promise<{ id: string; worker: ChildProcess; renderDir: string }> {
  const created = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { prompt: 'crash test', duration: 8, width: 1280, height: 720, fps: 30 },
  });
  expect(created.status).toBe(200);
  const id = created.body.id as string;
  const worker = spawnWorker();
  const renderDir = join(resolve(stack.config.REELAY_STORAGE_DIR), '..', 'preview-renders', `preview_${id.replace(/[^A-Za-z0-9_]/g, '')}`);
  // Wait until the render is really under way (progress reported from ffmpeg).
  await until('the render to start', async () => {
    const r = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
    return r.body.status === 'processing' && r.body.progress > 0 && existsSync(join(renderDir, 'pid'));
  });
  return { id, worker, renderDir };
}

async function expectExactlyOneOutputSet(id: string): Promise<void> {
  const outputs = await stack.db.taskOutput.findMany({ where: { taskId: id } });
  expect(outputs.map((o) => `${o.index}:${o.variant}`).sort()).toEqual(['0:spritesheet', '0:thumbnail', '0:video']);
  const files = readdirSync(join(resolve(stack.config.REELAY_STORAGE_DIR), 'videos', id, '0')).sort();
  expect(files).toEqual(['spritesheet.jpg', 'thumbnail.jpg', 'video.mp4']);
  const content = await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key });
  expect(probe(content.bytes)).toMatchObject({ width: 1280, height: 720, fps: 30, frames: 240 });
}

test('kill -9 of the worker mid-render: a new worker completes the task with exactly one output', async () => {
  const { id, worker } = await renderingTask();
  worker.kill('SIGKILL');
  await killed(worker);
  const replacement = spawnWorker();
  try {
    const { video } = await waitForVideo(stack, stack.key, id, 90_000);
    expect(video.status).toBe('completed');
    await expectExactlyOneOutputSet(id);
  } finally {
    replacement.kill('SIGKILL');
    await killed(replacement);
  }
});

test('kill -9 of the worker and of its render: the render is restarted and the task completes', async () => {
  const { id, worker, renderDir } = await renderingTask();
  worker.kill('SIGKILL');
  await killed(worker);
  const renderPid = Number(readFileSync(join(renderDir, 'pid'), 'utf8'));
  process.kill(-renderPid, 'SIGKILL'); // as if the machine had restarted under it
  const replacement = spawnWorker();
  try {
    const { video } = await waitForVideo(stack, stack.key, id, 90_000);
    expect(video.status).toBe('completed');
    await expectExactlyOneOutputSet(id);
    const task = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(task.upstreamId).toBe(`preview_${id}`);
  } finally {
    replacement.kill('SIGKILL');
    await killed(replacement);
  }
});

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createVideo, http, previewRenderDir, probe, spawnWorker, until, waitForVideo, type Spawned } from '@reelay/testing';
import { startStack, type Stack } from './harness';

let stack: Stack;

/**
 * A worker process (not in-process), so it can be killed with SIGKILL. Takeover here is BullMQ's
 * stalled-job check. Its reconciler stays off: with a 3 s lock its quiet window is 6 s, and it
 * would adopt other test files' tasks from the shared database (a long finalize looks quiet) and
 * fail them, since their renders live in other folders.
 */
const killableWorker = () => spawnWorker(stack, { WORKER_RECONCILE_INTERVAL_MS: '3600000' });

beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

async function renderingTask(): Promise<{ id: string; worker: Spawned; renderDir: string }> {
  const { id } = await createVideo(stack, stack.key, { prompt: 'crash test', duration: 8, width: 1280, height: 720, fps: 30 });
  const worker = killableWorker();
  const renderDir = previewRenderDir(stack, id);
  // Wait until the render is really under way (progress reported from ffmpeg).
  await until('the render to start', async () => {
    const r = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
    return r.body.status === 'processing' && r.body.progress > 0 && existsSync(join(renderDir, 'pid'));
  });
  return { id, worker, renderDir };
}

async function expectExactlyOneOutputSet(id: string): Promise<void> {
  // The images are stored right after the completion is announced.
  const outputs = await until('the images', async () => {
    const rows = await stack.db.taskOutput.findMany({ where: { taskId: id } });
    return rows.length >= 3 ? rows : null;
  });
  expect(outputs.map((o) => `${o.index}:${o.variant}`).sort()).toEqual(['0:spritesheet', '0:thumbnail', '0:video']);
  const files = readdirSync(join(resolve(stack.config.REELAY_STORAGE_DIR), 'videos', id, '0')).sort();
  expect(files).toEqual(['spritesheet.jpg', 'thumbnail.jpg', 'video.mp4']);
  const content = await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key });
  expect(probe(content.bytes)).toMatchObject({ width: 1280, height: 720, fps: 30, frames: 240 });
}

test('kill -9 of the worker mid-render: a new worker completes the task with exactly one output', async () => {
  const { id, worker } = await renderingTask();
  await worker.stop('SIGKILL');
  const replacement = killableWorker();
  try {
    const { video } = await waitForVideo(stack, stack.key, id, 90_000);
    expect(video.status).toBe('completed');
    await expectExactlyOneOutputSet(id);
  } finally {
    await replacement.stop('SIGKILL');
  }
});

test('kill -9 of the worker and of its render: the render is restarted and the task completes', async () => {
  const { id, worker, renderDir } = await renderingTask();
  await worker.stop('SIGKILL');
  const renderPid = Number(readFileSync(join(renderDir, 'pid'), 'utf8'));
  process.kill(-renderPid, 'SIGKILL'); // as if the machine had restarted under it
  const replacement = killableWorker();
  try {
    const { video } = await waitForVideo(stack, stack.key, id, 90_000);
    expect(video.status).toBe('completed');
    await expectExactlyOneOutputSet(id);
    const task = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(task.upstreamId).toBe(`preview_${id}`);
  } finally {
    await replacement.stop('SIGKILL');
  }
});

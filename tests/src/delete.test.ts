import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ModelCatalog } from '@reelay/core';
import { createProviders, type PollOutput } from '@reelay/providers';
import { QUEUE_NAMES, type WebhookJob } from '@reelay/queue';
import { LocalStorage } from '@reelay/storage';
import type { Queue } from 'bullmq';
import { admitPendingTasks, advanceTask, finalizeTask, type WorkerContext } from '@reelay/worker';
import { createVideo, http, previewRenderDir, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/** Live (not zombie) processes whose working directory is `dir`, by pid → command name. */
function processesIn(dir: string): Map<number, string> {
  const found = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`) !== dir) continue;
      found.set(Number(name), readFileSync(`/proc/${name}/comm`, 'utf8').trim());
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat); // a zombie has stopped running
  } catch {
    return false;
  }
}

describe('DELETE /v1/videos/{id} with a worker running', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  test('deleting a running preview render kills its ffmpeg, leaves no files, and the video is gone', async () => {
    const { id } = await createVideo(stack, stack.key, { prompt: 'delete me while rendering', duration: 60, width: 1280, height: 720, fps: 30 });
    const renderDir = previewRenderDir(stack, id);
    const ffmpegPids = await until('ffmpeg to be rendering', async () => {
      const r = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
      if (r.body.status !== 'processing' || r.body.progress <= 0) return false;
      const pids = [...processesIn(renderDir)].filter(([, comm]) => comm.startsWith('ffmpeg')).map(([pid]) => pid);
      return pids.length > 0 ? pids : false;
    });

    const del = await http(stack, 'DELETE', `/v1/videos/${id}`, { key: stack.key });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ id, object: 'video.deleted', deleted: true });

    // Left alone, this render would run for a long while yet.
    await until('ffmpeg to stop', () => ffmpegPids.every((pid) => !alive(pid)), 20_000);
    await until('the render folder to be released', () => !existsSync(renderDir), 30_000);
    expect(existsSync(join(resolve(stack.config.REELAY_STORAGE_DIR), 'videos', id))).toBe(false);

    const retrieve = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
    expect(retrieve.status).toBe(404);
    expect(retrieve.body.error.code).toBe('not_found');
    expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).status).toBe(404);
    expect((await http(stack, 'DELETE', `/v1/videos/${id}`, { key: stack.key })).status).toBe(404);

    // The stored state went through the state machine: failed as cancelled, then hidden.
    const row = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'failed', errorCode: 'cancelled' });
    expect(row.deletedAt).not.toBeNull();
    // And it stays that way: the task's own job does not bring anything back.
    await new Promise((r) => setTimeout(r, 1500));
    expect(existsSync(join(resolve(stack.config.REELAY_STORAGE_DIR), 'videos', id))).toBe(false);
    expect(await stack.db.taskOutput.count({ where: { taskId: id } })).toBe(0);
  });

  test('deleting a completed video removes its files; another key cannot delete it', async () => {
    const { id } = await createVideo(stack, stack.key, { prompt: 'done', duration: 1, width: 64, height: 64, fps: 24 });
    await waitForVideo(stack, stack.key, id);
    const dir = join(resolve(stack.config.REELAY_STORAGE_DIR), 'videos', id);
    expect(existsSync(dir)).toBe(true);

    const stranger = await http(stack, 'DELETE', `/v1/videos/${id}`, { key: await stack.newKey() });
    expect(stranger.status).toBe(404);
    expect(existsSync(dir)).toBe(true);

    const del = await http(stack, 'DELETE', `/v1/videos/${id}`, { key: stack.key });
    expect(del.body).toEqual({ id, object: 'video.deleted', deleted: true });
    expect(existsSync(dir)).toBe(false);
    expect(await stack.db.taskOutput.count({ where: { taskId: id } })).toBe(0);
    const row = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(row.status).toBe('completed'); // a finished task is hidden, not rewritten
    expect((await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key })).status).toBe(404);
  });
});

describe('steps run twice, or racing a delete', () => {
  let stack: Stack;
  let ctx: WorkerContext;
  beforeAll(async () => {
    stack = await startStack({}, { worker: false });
    const c = stack.config;
    ctx = {
      config: c,
      db: stack.db,
      storage: new LocalStorage(c.REELAY_STORAGE_DIR),
      providers: createProviders(c),
      catalog: ModelCatalog.load(c.REELAY_MODELS_FILE),
      media: { ffmpegPath: c.FFMPEG_PATH, ffprobePath: c.FFPROBE_PATH },
      logger: stack.api.deps.logger,
      webhooksQueue: stack.api.deps.queues.find((q) => q.name === QUEUE_NAMES.webhooks) as Queue<WebhookJob>,
    };
  });
  afterAll(async () => {
    await stack.close();
  });

  test('storing outputs after the delete leaves no files and no output rows', async () => {
    const { id } = await createVideo(stack, stack.key, { prompt: 'race', duration: 1, width: 64, height: 64, fps: 24 });
    expect((await admitPendingTasks(ctx)).map((a) => a.id)).toEqual([id]); // its turn comes (no limits here)
    await advanceTask(ctx, id); // submit: pending -> processing
    const processing = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(processing.status).toBe('processing');
    const provider = ctx.providers.get('preview')!;
    const outputs = await until('the render to finish', async () => {
      const r = await provider.poll(processing.upstreamId!);
      return r.state === 'succeeded' ? (r.outputs as PollOutput[]) : false;
    });

    // The delete lands while this worker still believes the task is processing...
    expect((await http(stack, 'DELETE', `/v1/videos/${id}`, { key: stack.key })).status).toBe(200);
    // ...and its finalize then copies the outputs into storage and tries to complete the task.
    await finalizeTask(ctx, processing, provider, outputs);

    expect(existsSync(join(resolve(stack.config.REELAY_STORAGE_DIR), 'videos', id))).toBe(false);
    expect(await stack.db.taskOutput.count({ where: { taskId: id } })).toBe(0);
    const row = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'failed', errorCode: 'cancelled' });
  });

  test("a second run of the same finalize (a job queued again) keeps the completed task's outputs", async () => {
    const { id } = await createVideo(stack, stack.key, { prompt: 'twice', duration: 1, width: 64, height: 64, fps: 24 });
    expect((await admitPendingTasks(ctx)).map((a) => a.id)).toEqual([id]);
    await advanceTask(ctx, id);
    const processing = await stack.db.task.findUniqueOrThrow({ where: { id } });
    const provider = ctx.providers.get('preview')!;
    const outputs = await until('the render to finish', async () => {
      const r = await provider.poll(processing.upstreamId!);
      return r.state === 'succeeded' ? (r.outputs as PollOutput[]) : false;
    });
    // Both runs start from the same processing row, as two workers holding the same job would; the
    // first releases the render, so the second reads copies of its files.
    const copies = mkdtempSync(join(tmpdir(), 'finalize-twice-'));
    const again = outputs.map((o, i) => {
      if (o.video.kind !== 'file') throw new Error('preview outputs are files');
      const path = join(copies, `${i}.mp4`);
      copyFileSync(o.video.path, path);
      return { ...o, video: { kind: 'file' as const, path } };
    });
    await finalizeTask(ctx, processing, provider, outputs);
    await finalizeTask(ctx, processing, provider, again);
    expect((await stack.db.task.findUniqueOrThrow({ where: { id } })).status).toBe('completed');
    expect(await stack.db.taskOutput.count({ where: { taskId: id } })).toBe(3);
    expect((await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key })).status).toBe(200);
  });

  test('two runs of the submit step (a job queued again while a worker still ran it) leave one render that completes', async () => {
    const { id } = await createVideo(stack, stack.key, { prompt: 'submitted twice', duration: 1, width: 64, height: 64, fps: 24 });
    expect((await admitPendingTasks(ctx)).map((a) => a.id)).toEqual([id]);
    // Both read the admitted row before either records the submit, as two holders of the job would.
    const steps = await Promise.all([advanceTask(ctx, id), advanceTask(ctx, id)]);
    expect(steps.map((s) => s.kind)).toEqual(['wait', 'wait']); // the loser goes on polling; it does not cancel the render
    const row = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(row.status).toBe('processing');
    const provider = ctx.providers.get('preview')!;
    const state = await until('the render to finish', async () => {
      const r = await provider.poll(row.upstreamId!);
      return r.state === 'succeeded' || r.state === 'failed' ? r.state : false;
    });
    expect(state).toBe('succeeded');
    await advanceTask(ctx, id); // the poll that finds it done: finalize
    expect((await stack.db.task.findUniqueOrThrow({ where: { id } })).status).toBe('completed');
  });
});

describe('DELETE when the queue is unreachable', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({}, { worker: false });
  });
  afterAll(async () => {
    await stack.close();
  });

  test('a live task is left exactly as it was, with a 503', async () => {
    const { id } = await createVideo(stack, stack.key, { prompt: 'keep me', duration: 1, width: 64, height: 64, fps: 24 });
    stack.api.deps.redis.disconnect(); // the API's own connection: its queue calls now fail fast
    const del = await http(stack, 'DELETE', `/v1/videos/${id}`, { key: stack.key });
    expect(del.status).toBe(503);
    expect(del.body.error.code).toBe('service_unavailable');
    const row = await stack.db.task.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'pending', deletedAt: null, errorCode: null });
    expect((await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key })).status).toBe(200);
    await stack.db.task.delete({ where: { id } }); // no job will ever run it
  });
});

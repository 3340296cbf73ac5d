import { existsSync } from 'node:fs';
import { startWorker } from '@reelay/worker';
import { Queue } from 'bullmq';
import { http, isMp4, solidPng, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// A short TTL and a fast sweep; the render of a tiny clip finishes well inside the TTL.
const TTL_SECONDS = 20;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ REELAY_RESULT_TTL_SECONDS: String(TTL_SECONDS), WORKER_EXPIRY_SWEEP_INTERVAL_MS: '500' });
});
afterAll(async () => {
  await stack.close();
});

test('after expires_at the sweep deletes the files, content is 410 video_expired, and the task stays readable', async () => {
  const created = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { prompt: 'short-lived', duration: 1, width: 128, height: 128, fps: 24, image: solidDataUrl() },
  });
  expect(created.status).toBe(200);
  expect(created.body.expires_at - created.body.created_at).toBe(TTL_SECONDS);
  const id = created.body.id;

  const { video } = await waitForVideo(stack, stack.key, id, 120_000);
  expect(video.status).toBe('completed');
  const storage = stack.config.REELAY_STORAGE_DIR;
  const before = await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key });
  // If the machine was too slow to finish inside the TTL there is nothing to compare against.
  if (Date.now() / 1000 < video.expires_at - 1) {
    expect(before.status).toBe(200);
    expect(isMp4(before.bytes)).toBe(true);
  }
  expect(existsSync(`${storage}/videos/${id}`)).toBe(true);
  expect(existsSync(`${storage}/inputs/${id}`)).toBe(true);

  // Wait for the sweep to stamp the task.
  const task = await until(
    'the sweep to stamp the expired task',
    async () => {
      const t = await stack.db.task.findUniqueOrThrow({ where: { id } });
      return t.filesDeletedAt ? { ...t, filesDeletedAt: t.filesDeletedAt } : null;
    },
    (TTL_SECONDS + 60) * 1000,
    250,
  );
  expect(task.filesDeletedAt.getTime()).toBeGreaterThanOrEqual(task.expiresAt.getTime());
  expect(existsSync(`${storage}/videos/${id}`)).toBe(false);
  expect(existsSync(`${storage}/inputs/${id}`)).toBe(false);
  expect(await stack.db.taskOutput.count({ where: { taskId: id } })).toBe(0);

  const content = await http(stack, 'GET', `/v1/videos/${id}/content`, { key: stack.key });
  expect(content.status).toBe(410);
  expect(content.body.error.code).toBe('video_expired');
  const signed = await fetch(video.url);
  expect(signed.status).toBe(410);
  expect(((await signed.json()) as any).error.code).toBe('video_expired');

  const again = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ id, status: 'completed', expires_at: video.expires_at });
  expect(again.body.url).toBeUndefined();
}, 200_000);

test('the sweep is one job scheduler on the maintenance queue, however many workers run', async () => {
  const extraWorker = await startWorker(stack.config);
  const q = new Queue('maintenance', { connection: { host: '127.0.0.1', port: 6379 }, prefix: stack.config.REELAY_QUEUE_PREFIX });
  try {
    // One of each catalog scheduler on the queue (the reconcile sweep is the other), not one per worker.
    const schedulers = await q.getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual(['expire-results', 'reconcile-tasks']);
    expect(Number(schedulers.find((s) => s.key === 'expire-results')!.every)).toBe(500);
  } finally {
    await q.close();
    await extraWorker.close();
  }
});

/** A 64x64 red PNG as a data URL, so the task also has an input file to delete. */
const solidDataUrl = (): string => `data:image/png;base64,${solidPng('red').toString('base64')}`;

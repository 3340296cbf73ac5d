import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { insertTask } from '@reelay/db';
import { http, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// What a worker killed at the wrong moment leaves on disk is reclaimed by the next worker's sweep,
// and nothing a live task still needs is touched.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ WORKER_LEFTOVER_MAX_AGE_MS: '1000', WORKER_LEFTOVER_SWEEP_INTERVAL_MS: '300' });
});
afterAll(async () => {
  await stack.close();
});

const old = (path: string) => {
  const t = new Date(Date.now() - 3600_000);
  utimesSync(path, t, t);
};

test('stale temp files and render folders of ended tasks are swept; a live task keeps its folder', async () => {
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: 'leftovers', duration: 1, width: 64, height: 64, fps: 24 } });
  expect(created.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, created.body.id);
  expect(video.status).toBe('completed');
  const renders = join(resolve(stack.config.REELAY_STORAGE_DIR), '..', 'preview-renders');
  const storageTmp = join(resolve(stack.config.REELAY_STORAGE_DIR), '.tmp');

  // A render folder its worker never released (killed after completing the task), a half-written
  // object and a finalize scratch folder, all an hour old.
  const ended = join(renders, `preview_${video.id}`);
  mkdirSync(ended, { recursive: true });
  writeFileSync(join(ended, 'out-0.mp4'), 'x');
  old(ended);
  mkdirSync(storageTmp, { recursive: true });
  writeFileSync(join(storageTmp, '999-1-x.tmp'), 'half');
  old(join(storageTmp, '999-1-x.tmp'));
  mkdirSync(join(storageTmp, 'finalize-abc'));
  old(join(storageTmp, 'finalize-abc'));

  // A live task's render folder, just as old: it must stay.
  const keyId = stack.keyId;
  const liveId = `vid_leftoverlive${Date.now()}`;
  await insertTask(stack.db, {
    id: liveId,
    apiKeyId: keyId,
    model: 'sora-1.0',
    provider: 'other',
    providerTarget: 'other',
    upstreamId: `preview_${liveId}`,
    status: 'processing',
    durationSeconds: 1,
    width: 64,
    height: 64,
    fps: 8,
    seed: 1n,
    expiresAt: new Date(Date.now() + 86_400_000),
    queuePrefix: 'elsewhere',
  });
  const live = join(renders, `preview_${liveId}`);
  mkdirSync(live);
  old(live);

  await until(
    'the sweep to reclaim the leftovers',
    () => !existsSync(ended) && !existsSync(join(storageTmp, '999-1-x.tmp')) && !existsSync(join(storageTmp, 'finalize-abc')),
    20_000,
  );
  expect(existsSync(live)).toBe(true);
  // The completed video is still served.
  expect((await http(stack, 'GET', `/v1/videos/${video.id}/content`, { key: stack.key })).status).toBe(200);
  await stack.db.task.delete({ where: { id: liveId } });
});

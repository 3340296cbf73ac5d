import { newVideoId } from '@reelay/core';
import { freePort, http, spawnProcess, until, type Spawned } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Redis stopped and started under a running API. Uses a throwaway redis-server on its own
 * loopback port (never the shared one), without persistence.
 */
let port: number;
let redis: Spawned | null = null;
let stack: Stack;

async function startRedis(): Promise<void> {
  const child = spawnProcess('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory-policy',
    'noeviction',
  ]);
  await child.waitFor(/Ready to accept connections/);
  redis = child;
}

async function stopRedis(): Promise<void> {
  const child = redis!;
  redis = null;
  await child.stop('SIGKILL');
}

beforeAll(async () => {
  port = await freePort();
  await startRedis();
  // Connection errors during the outage are expected; keep the test output readable.
  stack = await startStack({ REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'fatal' });
});
afterAll(async () => {
  if (!redis) await startRedis(); // lets the workers close cleanly
  await stack.close();
  if (redis) await stopRedis();
});

test('/readyz: 200, then 503 naming Redis while it is stopped, then 200 once it is back; create answers 503 meanwhile and leaves nothing', async () => {
  // Ready once the API's connection is up (no offline queue: it does not pretend before that).
  await until('readyz 200', async () => (await http(stack, 'GET', '/readyz')).status === 200);
  const up = await http(stack, 'GET', '/readyz');
  expect(up.status).toBe(200);
  expect(up.body.checks).toEqual({ postgres: 'ok', redis: 'ok' });

  await stopRedis();
  await until('readyz 503', async () => (await http(stack, 'GET', '/readyz')).status === 503);
  const down = await http(stack, 'GET', '/readyz');
  expect(down.status).toBe(503);
  expect(down.body.status).toBe('unavailable');
  expect(down.body.checks.postgres).toBe('ok');
  expect(down.body.checks.redis).not.toBe('ok');

  const before = await stack.db.task.count({ where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX } });
  const started = Date.now();
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: 'no redis', duration: 1, width: 128, height: 128, fps: 24 } });
  expect(created.status).toBe(503);
  expect(created.body.error).toMatchObject({ code: 'service_unavailable', type: expect.any(String) });
  expect(created.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(await stack.db.task.count({ where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX } })).toBe(before);
  // Deleting a live task needs its cancel queued: the same 503, with Retry-After. (A pending row
  // made here, so that no render of it is running.)
  const owner = stack.keyId;
  const live = newVideoId();
  await stack.db.task.create({
    data: {
      id: live,
      apiKeyId: owner,
      model: 'sora-1.0',
      provider: 'preview',
      durationSeconds: 1,
      width: 64,
      height: 64,
      fps: 24,
      seed: 1n,
      expiresAt: new Date(Date.now() + 3600_000),
    },
  });
  const deleted = await http(stack, 'DELETE', `/v1/videos/${live}`, { key: stack.key });
  expect([deleted.status, deleted.body.error.code, deleted.headers.get('retry-after')]).toEqual([503, 'service_unavailable', expect.stringMatching(/^\d+$/)]);
  process.stdout.write(`create with Redis down answered ${created.status} in ${Date.now() - started} ms\n`);
  // Retrieval reads only Postgres and keeps working.
  expect((await http(stack, 'GET', '/v1/videos/vid_doesnotexist', { key: stack.key })).status).toBe(404);
  // Metrics still answer without Redis.
  expect((await http(stack, 'GET', '/metrics')).status).toBe(200);

  await startRedis();
  await until('readyz 200 again', async () => (await http(stack, 'GET', '/readyz')).status === 200);
  const again = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: 'redis back', duration: 1, width: 128, height: 128, fps: 24 } });
  expect(again.status).toBe(200);
});

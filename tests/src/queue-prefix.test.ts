import { KEY_SPACES, QUEUE_NAMES } from '@reelay/queue';
import { http, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Redis Cluster needs every key of a queue in one hash slot: a prefix wrapped in braces (a hash
 * tag) does that. This runs a task end to end with such a prefix and checks the keys it wrote.
 */
let stack: Stack;
const prefix = `{reelay-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}}`;

beforeAll(async () => {
  stack = await startStack({ REELAY_QUEUE_PREFIX: prefix });
});
afterAll(async () => {
  await stack.close();
});

test('a hash-tagged queue prefix ({...}) is accepted by BullMQ and a task completes under it', async () => {
  const created = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { prompt: 'cluster prefix', duration: 1, width: 128, height: 128, fps: 24 },
  });
  expect(created.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, created.body.id);
  expect(video.status).toBe('completed');
  const keys = await stack.api.deps.redis.keys(`${prefix}:*`);
  expect(keys.length).toBeGreaterThan(0);
  // Every key carries the hash tag, so a cluster would put them all in one slot, and each is a
  // queue's or one named in packages/queue/src/keys.ts.
  const queueOf = (k: string) => k.slice(prefix.length + 1).split(':')[0];
  const spaces: string[] = [...Object.values(QUEUE_NAMES), ...KEY_SPACES];
  expect(keys.filter((k) => !spaces.includes(queueOf(k)!))).toEqual([]);
  expect(keys.some((k) => k.startsWith(`${prefix}:video-tasks:`))).toBe(true);
});

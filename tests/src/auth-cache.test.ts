import { hashApiKey } from '@reelay/core';
import { invalidateApiKeyCache } from '@reelay/queue';
import { http } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// Two API processes' worth of caches: the stack's own, and a second API on the same Redis prefix.
let stack: Stack;
let second: Stack;
beforeAll(async () => {
  stack = await startStack({ REELAY_AUTH_CACHE_MS: '600000' }, { worker: false });
  second = await startStack({ REELAY_AUTH_CACHE_MS: '600000', REELAY_QUEUE_PREFIX: stack.config.REELAY_QUEUE_PREFIX }, { worker: false });
});
afterAll(async () => {
  await second.close();
  await stack.close();
});

const list = (s: Stack, key: string) => http(s, 'GET', '/v1/videos/vid_none', { key });

test('key lookups are cached in process, and invalidateApiKeyCache makes a revocation apply on the very next request everywhere', async () => {
  const key = await stack.newKey();
  expect((await list(stack, key)).status).toBe(404); // authenticated; the video just does not exist
  expect((await list(second, key)).status).toBe(404);

  // Revoked behind Reelay's back: the cached lookup is still trusted (that is what the TTL bounds).
  await stack.db.apiKey.update({ where: { keyHash: hashApiKey(key) }, data: { status: 'revoked', revokedAt: new Date() } });
  expect((await list(stack, key)).status).toBe(404);

  // Revoked the supported way: both processes refuse it on their next request.
  await invalidateApiKeyCache(stack.api.deps.redis, stack.config.REELAY_QUEUE_PREFIX);
  const first = await list(stack, key);
  expect(first.status).toBe(401);
  expect(first.body.error.code).toBe('invalid_api_key');
  expect((await list(second, key)).status).toBe(401);
});

test('an unknown key is never cached: a key created after a miss works at once', async () => {
  const res = await list(stack, 'rly_not_yet_a_key_000000000000000');
  expect(res.status).toBe(401);
  const key = await stack.newKey();
  expect((await list(stack, key)).status).toBe(404);
});

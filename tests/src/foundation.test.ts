import { hashApiKey } from '@reelay/core';
import { http, isJpeg, isMp4, probe, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// The seed spec's cURL example body, unchanged.
const SEED_BODY = {
  model: 'sora-1.0',
  prompt: 'A cute orange cat napping in the sunlight with wind gently blowing its fur',
  duration: 10,
  width: 1920,
  height: 1080,
  fps: 30,
  n: 1,
};

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

async function taskCount(key: string): Promise<number> {
  const k = await stack.db.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(key) } });
  return stack.db.task.count({ where: { apiKeyId: k.id } });
}

test("the seed's cURL request is accepted with every field of the seed's success response", async () => {
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: SEED_BODY });
  expect(res.status).toBe(200);
  const v = res.body;
  expect(v.id).toMatch(/^vid_[A-Za-z0-9]{24}$/);
  expect(v).toMatchObject({ object: 'video', model: 'sora-1.0', seconds: '10.0', size: '1920x1080', error: null, completed_at: null });
  expect(['pending', 'processing']).toContain(v.status);
  expect(v.progress).toBe(0);
  expect(v.metadata.fps).toBe(30);
  expect(Number.isInteger(v.metadata.seed)).toBe(true);
  expect(Number.isInteger(v.created_at)).toBe(true);
  expect(v.expires_at - v.created_at).toBe(24 * 3600);
  expect(res.headers.get('x-request-id')).toBeTruthy();

  const { video, progress } = await waitForVideo(stack, stack.key, v.id, 120_000);
  expect(video.status).toBe('completed');
  expect(video.progress).toBe(100);
  expect(typeof video.completed_at).toBe('number');
  // Progress never goes backwards and passes through intermediate values on the way to 100.
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  expect(progress.some((p) => p > 0 && p < 100)).toBe(true);

  const content = await http(stack, 'GET', `/v1/videos/${v.id}/content`, { key: stack.key });
  expect(content.status).toBe(200);
  expect(content.headers.get('content-type')).toBe('video/mp4');
  expect(isMp4(content.bytes)).toBe(true);
  const p = probe(content.bytes);
  expect(p).toMatchObject({ width: 1920, height: 1080, fps: 30, codec: 'h264', frames: 300 });
  expect(Math.abs(p.duration - 10)).toBeLessThanOrEqual(1 / 30);

  const thumb = await http(stack, 'GET', `/v1/videos/${v.id}/content?variant=thumbnail`, { key: stack.key });
  expect(thumb.status).toBe(200);
  expect(thumb.headers.get('content-type')).toBe('image/jpeg');
  expect(isJpeg(thumb.bytes)).toBe(true);
});

test("duration 999 is refused with the seed's exact error, and no task is created", async () => {
  const before = await taskCount(stack.key);
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SEED_BODY, duration: 999 } });
  expect(res.status).toBe(400);
  expect(res.body).toEqual({
    error: {
      message: 'Invalid parameter: duration must be between 1 and 60 seconds',
      code: 'invalid_parameter',
      type: 'invalid_request_error',
      param: 'duration',
    },
  });
  expect(await taskCount(stack.key)).toBe(before);
});

test('a request without a key, or with an unknown one, is 401 and creates nothing', async () => {
  const prompt = `unauthenticated ${Date.now()}`;
  const none = await http(stack, 'POST', '/v1/videos', { json: { ...SEED_BODY, prompt } });
  expect(none.status).toBe(401);
  expect(none.body.error.code).toBe('invalid_api_key');
  const wrong = await http(stack, 'POST', '/v1/videos', { key: 'rly_not_a_real_key_0000000000000', json: { ...SEED_BODY, prompt } });
  expect(wrong.status).toBe(401);
  expect(wrong.body.error.code).toBe('invalid_api_key');
  expect(await stack.db.task.count({ where: { prompt } })).toBe(0);
});

test("another key's video is a 404, for the object and for its content", async () => {
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: 'mine', duration: 1, width: 128, height: 128 } });
  expect(created.status).toBe(200);
  const other = await stack.newKey();
  const res = await http(stack, 'GET', `/v1/videos/${created.body.id}`, { key: other });
  expect(res.status).toBe(404);
  expect(res.body.error.code).toBe('not_found');
  const content = await http(stack, 'GET', `/v1/videos/${created.body.id}/content`, { key: other });
  expect(content.status).toBe(404);
  expect(await taskCount(other)).toBe(0);
});

test('malformed JSON is 400 invalid_json and creates nothing', async () => {
  const before = await taskCount(stack.key);
  const res = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    body: '{"prompt": "a cat", "duration": 10,',
    headers: { 'content-type': 'application/json' },
  });
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('invalid_json');
  expect(await taskCount(stack.key)).toBe(before);
});

import { paddedPng } from '../fuzz/values';
import { http } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// Small caps so the limits are reached with small requests.
const MAX_BODY = 20_000;
const MAX_IMAGE = 1_000;
const MAX_PROMPT = 50;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { REELAY_MAX_BODY_BYTES: String(MAX_BODY), REELAY_MAX_IMAGE_BYTES: String(MAX_IMAGE), REELAY_MAX_PROMPT_CHARS: String(MAX_PROMPT) },
    { worker: false },
  );
});
afterAll(async () => {
  await stack.close();
});

const count = () => stack.db.task.count({ where: { apiKeyId: stack.keyId } });
const SMALL = { duration: 1, width: 64, height: 64, fps: 24 };
// A real PNG padded with a comment chunk: an image of any size we like.
const png = (bytes: number) => paddedPng(bytes);

test('a body above REELAY_MAX_BODY_BYTES is 413 payload_too_large naming the limit', async () => {
  const before = await count();
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SMALL, prompt: 'x', metadata: { pad: 'p'.repeat(MAX_BODY) } } });
  expect(res.status).toBe(413);
  expect(res.body.error.code).toBe('payload_too_large');
  expect(res.body.error.message).toContain(String(MAX_BODY));
  // The same, as multipart.
  const form = new FormData();
  form.set('prompt', 'x');
  form.set('metadata', JSON.stringify({ pad: 'p'.repeat(MAX_BODY) }));
  const multi = await http(stack, 'POST', '/v1/videos', { key: stack.key, body: form });
  expect(multi.status).toBe(413);
  expect(multi.body.error.code).toBe('payload_too_large');
  expect(multi.body.error.message).toContain(String(MAX_BODY));
  expect(await count()).toBe(before);
});

test('a chunked multipart body (no content-length) is cut off at the cap with the same 413', async () => {
  const before = await count();
  const boundary = 'reelay-chunked';
  // Parts each below every per-field limit, together well above the body cap.
  const parts = [`--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n`];
  for (let i = 0; i < 8; i++) parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="metadata[p${i}]"\r\n\r\n${'p'.repeat(MAX_BODY / 2)}\r\n`);
  parts.push(`--${boundary}--\r\n`);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
  const res = await fetch(`${stack.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(413);
  const err = ((await res.json()) as { error: { code: string; message: string } }).error;
  expect(err.code).toBe('payload_too_large');
  expect(err.message).toContain(String(MAX_BODY));
  expect(await count()).toBe(before);
});

test('an upload above REELAY_MAX_IMAGE_BYTES is 413 naming the field and the limit; one at the limit is accepted', async () => {
  const before = await count();
  const big = new FormData();
  big.set('prompt', 'x');
  big.set('input_reference', new Blob([png(MAX_IMAGE + 1)], { type: 'image/png' }), 'big.png');
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, body: big });
  expect(res.status).toBe(413);
  expect(res.body.error).toMatchObject({ code: 'payload_too_large', param: 'input_reference' });
  expect(res.body.error.message).toContain(String(MAX_IMAGE));
  expect(await count()).toBe(before);

  const ok = new FormData();
  ok.set('prompt', 'x');
  ok.set('input_reference', new Blob([png(MAX_IMAGE)], { type: 'image/png' }), 'ok.png');
  expect((await http(stack, 'POST', '/v1/videos', { key: stack.key, body: ok })).status).toBe(200);
});

test('a prompt above REELAY_MAX_PROMPT_CHARS is 400 naming the field and the limit; one at the limit is accepted', async () => {
  const before = await count();
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SMALL, prompt: 'p'.repeat(MAX_PROMPT + 1) } });
  expect(res.status).toBe(400);
  expect(res.body.error).toEqual({
    message: `Invalid parameter: prompt must be at most ${MAX_PROMPT} characters`,
    code: 'invalid_parameter',
    type: 'invalid_request_error',
    param: 'prompt',
  });
  expect(await count()).toBe(before);
  expect((await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...SMALL, prompt: 'p'.repeat(MAX_PROMPT) } })).status).toBe(200);
});

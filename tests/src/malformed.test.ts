import { http } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// A battery of broken creates. Every one must be a 4xx in the API's error shape whose message
// names the offending field (or the body as a whole), and must leave no task behind.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

const OK = { prompt: 'a small test clip', duration: 1, width: 64, height: 64, fps: 24 };
const PNG_1x1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

type Part = { name: string; value: string } | { name: string; filename: string; type: string; data: Buffer };
const BOUNDARY = '----reelay-test-boundary';
function multipart(parts: Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = 'filename' in p ? `form-data; name="${p.name}"; filename="${p.filename}"` : `form-data; name="${p.name}"`;
    const head = `--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n${'filename' in p ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head), 'filename' in p ? p.data : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}
const form = (parts: Part[]) => ({ body: multipart(parts), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } });
const okParts: Part[] = [
  { name: 'prompt', value: 'a small test clip' },
  { name: 'duration', value: '1' },
  { name: 'width', value: '64' },
  { name: 'height', value: '64' },
];

interface Case {
  name: string;
  req: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> };
  /** The field the message must name; null for errors about the body as a whole. */
  param: string | null;
  /** Words the message must contain when param is null. */
  says?: string;
  status?: number;
}

const json = (body: Record<string, unknown>) => ({ json: { ...OK, ...body } });
const raw = (text: string, type = 'application/json') => ({ body: text, headers: { 'content-type': type } });

const cases: Case[] = [
  // Wrong types for every field.
  { name: 'model as a number', req: json({ model: 123 }), param: 'model' },
  { name: 'unknown model', req: json({ model: 'sora-9' }), param: 'model' },
  { name: 'prompt as an object', req: json({ prompt: { text: 'x' } }), param: 'prompt' },
  { name: 'prompt as an array', req: json({ prompt: ['a', 'b'] }), param: 'prompt' },
  { name: 'image as a number', req: json({ image: 5 }), param: 'image' },
  { name: 'input_reference as a number', req: json({ input_reference: 7 }), param: 'input_reference' },
  { name: 'input_reference.image_url as a number', req: json({ input_reference: { image_url: 5 } }), param: 'input_reference' },
  { name: 'input_reference with a stray key', req: json({ input_reference: { url: 'https://example.com/a.png' } }), param: 'input_reference' },
  { name: 'duration as a word', req: json({ duration: 'ten' }), param: 'duration' },
  { name: 'duration as a boolean', req: json({ duration: true }), param: 'duration' },
  { name: 'seconds as an array', req: json({ seconds: ['4'] }), param: 'seconds' },
  { name: 'width as a word', req: json({ width: 'wide' }), param: 'width' },
  { name: 'width with a fraction', req: json({ width: 64.5 }), param: 'width' },
  { name: 'height as an object', req: json({ height: {} }), param: 'height' },
  { name: 'size as a number', req: json({ size: 1280, width: undefined, height: undefined }), param: 'size' },
  { name: 'size without an x', req: json({ size: '1280*720', width: undefined, height: undefined }), param: 'size' },
  { name: 'fps as a word', req: json({ fps: 'fast' }), param: 'fps' },
  { name: 'fps not offered by the model', req: json({ fps: 23 }), param: 'fps' },
  { name: 'seed negative', req: json({ seed: -1 }), param: 'seed' },
  { name: 'seed above 2^32-1', req: json({ seed: 4294967296 }), param: 'seed' },
  { name: 'n as a word', req: json({ n: 'two' }), param: 'n' },
  { name: 'n zero', req: json({ n: 0 }), param: 'n' },
  { name: 'response_format unknown', req: json({ response_format: 'mp4' }), param: 'response_format' },
  { name: 'response_format as a number', req: json({ response_format: 1 }), param: 'response_format' },
  { name: 'user as a number', req: json({ user: 5 }), param: 'user' },
  { name: 'user too long', req: json({ user: 'u'.repeat(300) }), param: 'user' },
  { name: 'metadata as a number', req: json({ metadata: 5 }), param: 'metadata' },
  { name: 'metadata as an array', req: json({ metadata: [1] }), param: 'metadata' },
  { name: 'metadata as a non-JSON string', req: json({ metadata: 'style=noir' }), param: 'metadata' },
  { name: 'callback_url as a number', req: json({ callback_url: 5 }), param: 'callback_url' },
  { name: 'callback_url with another scheme', req: json({ callback_url: 'javascript:alert(1)' }), param: 'callback_url' },
  { name: 'an unknown field', req: json({ durations: 5 }), param: 'durations' },
  // Empty and non-object bodies.
  { name: 'empty body', req: raw(''), param: 'prompt' },
  { name: 'empty object', req: { json: {} }, param: 'prompt' },
  { name: 'blank prompt and nothing else', req: { json: { prompt: '   ' } }, param: 'prompt' },
  { name: 'JSON array body', req: raw('[{"prompt":"a"}]'), param: null, says: 'JSON object' },
  { name: 'JSON string body', req: raw('"a cat"'), param: null, says: 'JSON object' },
  { name: 'JSON null body', req: raw('null'), param: null, says: 'JSON object' },
  { name: 'truncated JSON', req: raw('{"prompt": "a"'), param: null, says: 'JSON' },
  // Content types.
  { name: 'text/plain', req: raw('prompt=a cat', 'text/plain'), param: null, says: 'Content-Type', status: 415 },
  { name: 'form-urlencoded', req: raw('prompt=a+cat&duration=1', 'application/x-www-form-urlencoded'), param: null, says: 'Content-Type', status: 415 },
  { name: 'no content type with a body', req: { body: '{"prompt":"a"}', headers: { 'content-type': '' } }, param: null, says: 'Content-Type', status: 415 },
  // Huge, negative and NaN-ish numbers.
  { name: 'width 1e400 (Infinity once parsed)', req: raw('{"prompt":"a","width":1e400,"height":64}'), param: 'width' },
  { name: 'duration 1e308', req: json({ duration: 1e308 }), param: 'duration' },
  { name: 'seed with 20 digits', req: json({ seed: '99999999999999999999' }), param: 'seed' },
  { name: 'duration "-5"', req: json({ duration: '-5' }), param: 'duration' },
  { name: 'duration "NaN"', req: json({ duration: 'NaN' }), param: 'duration' },
  { name: 'duration "Infinity"', req: json({ duration: 'Infinity' }), param: 'duration' },
  { name: 'fps "0x1e"', req: json({ fps: '0x1e' }), param: 'fps' },
  { name: 'n "1e1"', req: json({ n: '1e1' }), param: 'n' },
  { name: 'duration ""', req: json({ duration: '' }), param: 'duration' },
  // Images.
  { name: 'invalid base64 image', req: json({ image: '!!!not base64!!!' }), param: 'image' },
  { name: 'base64 of something that is not an image', req: json({ image: Buffer.from('hello, not an image').toString('base64') }), param: 'image' },
  { name: 'a non-image data URL', req: json({ image: 'data:text/plain;base64,aGVsbG8gd29ybGQ=' }), param: 'image' },
  { name: 'a data URL that is not base64', req: json({ image: 'data:image/png,hello' }), param: 'image' },
  { name: 'an ftp image URL', req: json({ image: 'ftp://example.com/a.png' }), param: 'image' },
  {
    name: 'image and input_reference together',
    req: json({ image: PNG_1x1.toString('base64'), input_reference: { image_url: PNG_1x1.toString('base64') } }),
    param: 'input_reference',
  },
  // Conflicting spellings.
  { name: 'duration and seconds disagree', req: json({ duration: 4, seconds: '8' }), param: 'seconds' },
  { name: 'size disagrees with width/height', req: json({ size: '128x128' }), param: 'size' },
  { name: 'width without height', req: json({ height: undefined }), param: 'height' },
  // Bad multipart.
  {
    name: 'multipart truncated mid-part',
    req: { body: multipart(okParts).subarray(0, 60), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } },
    param: null,
    says: 'multipart',
  },
  {
    name: 'multipart without a boundary',
    req: { body: multipart(okParts), headers: { 'content-type': 'multipart/form-data' } },
    param: null,
    says: 'multipart',
  },
  {
    name: 'a file under an unexpected field',
    req: form([...okParts, { name: 'video', filename: 'a.png', type: 'image/png', data: PNG_1x1 }]),
    param: 'video',
  },
  {
    name: 'two files',
    req: form([
      ...okParts,
      { name: 'input_reference', filename: 'a.png', type: 'image/png', data: PNG_1x1 },
      { name: 'input_reference', filename: 'b.png', type: 'image/png', data: PNG_1x1 },
    ]),
    param: 'input_reference',
  },
  {
    name: 'a text file as input_reference',
    req: form([...okParts, { name: 'input_reference', filename: 'a.txt', type: 'text/plain', data: Buffer.from('hello') }]),
    param: 'input_reference',
  },
  { name: 'JSON field sent twice', req: raw('{"prompt":"a","duration":1,"width":64,"height":64,"duration":60}'), param: 'duration' },
  { name: 'multipart field sent twice', req: form([...okParts, { name: 'prompt', value: 'another' }]), param: 'prompt' },
  {
    name: 'multipart number as a word',
    req: form([
      { name: 'prompt', value: 'a' },
      { name: 'seconds', value: 'four' },
    ]),
    param: 'seconds',
  },
  { name: 'multipart metadata not JSON', req: form([...okParts, { name: 'metadata', value: '{style: noir' }]), param: 'metadata' },
  { name: 'multipart unknown field', req: form([...okParts, { name: 'quality', value: 'high' }]), param: 'quality' },
  { name: 'multipart unknown bracket field', req: form([...okParts, { name: 'input_reference[file_url]', value: 'file_1' }]), param: 'input_reference' },
  {
    name: 'multipart file id of the wrong form',
    req: form([...okParts, { name: 'input_reference[file_id]', value: 'file_1' }]),
    param: 'input_reference.file_id',
  },
];

test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
  const before = await stack.db.task.count({ where: { apiKeyId: stack.keyId } });
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, ...c.req });
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  if (c.status) expect(res.status).toBe(c.status);
  expect(res.body).toEqual({
    error: { message: expect.any(String), code: expect.any(String), type: expect.any(String), param: c.param },
  });
  if (c.param !== null) expect(res.body.error.message).toContain(c.param);
  else expect(res.body.error.message).toContain(c.says);
  expect(await stack.db.task.count({ where: { apiKeyId: stack.keyId } })).toBe(before);
});

test('the well-formed baselines of the battery are accepted (so each refusal above is about its one defect)', async () => {
  const a = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: OK });
  expect(a.status).toBe(200);
  const b = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    ...form([...okParts, { name: 'input_reference', filename: 'a.png', type: 'image/png', data: PNG_1x1 }]),
  });
  expect(b.status).toBe(200);
  const c = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    ...form([...okParts, { name: 'metadata', value: '{"style":"noir"}' }, { name: 'seconds', value: '1' }]),
  });
  expect(c.status).toBe(200);
  expect(c.body.metadata.style).toBe('noir');
});

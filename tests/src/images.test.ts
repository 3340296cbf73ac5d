import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGES } from '../fuzz/values';
import { http, solidImage, solidPng } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// Input images are decoded at create: a broken or oversized one is a 400 on its field, before any
// task or stored file exists. No worker: nothing here needs rendering.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

const BASE = { prompt: 'from an image', duration: 1, width: 128, height: 128, fps: 24 };
const dataUrl = (b: Buffer, mime = 'image/png') => `data:${mime};base64,${b.toString('base64')}`;
const tasks = () => stack.db.task.count({ where: { apiKeyId: stack.keyId } });
const storedInputs = () => {
  try {
    return readdirSync(join(stack.config.REELAY_STORAGE_DIR, 'inputs')).length;
  } catch {
    return 0;
  }
};

/** The three ways an image arrives: `image` (JSON), `input_reference.image_url` (JSON), an `input_reference` upload. */
async function sendAllWays(image: Buffer): Promise<{ param: string; status: number; error: { param: string; message: string } }[]> {
  const asImage = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...BASE, image: dataUrl(image) } });
  const asRef = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...BASE, input_reference: { image_url: image.toString('base64') } } });
  const form = new FormData();
  for (const [k, v] of Object.entries(BASE)) form.append(k, String(v));
  form.append('input_reference', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'ref.png');
  const upload = await http(stack, 'POST', '/v1/videos', { key: stack.key, body: form });
  return [
    { param: 'image', status: asImage.status, error: asImage.body.error },
    { param: 'input_reference.image_url', status: asRef.status, error: asRef.body.error },
    { param: 'input_reference', status: upload.status, error: upload.body.error },
  ];
}

test.each([
  ['a PNG whose pixel data is not zlib', IMAGES.corruptPng, /is not a valid PNG image: its data is damaged or incomplete/],
  ['a PNG header claiming 60000x60000', IMAGES.hugePng, /is 60000x60000 pixels; images of at most 40000000 pixels \(40 megapixels\) are accepted/],
  ['a PNG signature and nothing else', IMAGES.truncatedPng, /is not a valid PNG image: its header is missing or damaged/],
  ['JPEG magic bytes over noise', IMAGES.corruptJpeg, /is not a valid JPEG image/],
  ['a WebP container without a VP8 frame', IMAGES.corruptWebp, /is not a valid WebP image/],
  ['a real PNG cut in half', solidPng('red').subarray(0, 60), /is not a valid PNG image/],
])('%s is a 400 on its field, however it is sent, and leaves no task or file', async (_name, image, says) => {
  const before = { tasks: await tasks(), inputs: storedInputs() };
  for (const r of await sendAllWays(image)) {
    expect([r.param, r.status, r.error?.param]).toEqual([r.param, 400, r.param]);
    expect(r.error.message).toMatch(says);
    expect(r.error.message).not.toMatch(/inflate|@ 0x|ffmpeg/); // the decoder's own words stay in the log
  }
  expect({ tasks: await tasks(), inputs: storedInputs() }).toEqual(before);
});

test('real PNG, JPEG and WebP images are accepted', async () => {
  for (const [image, mime] of [
    [solidPng('blue'), 'image/png'],
    [solidImage('jpeg'), 'image/jpeg'],
    [solidImage('webp'), 'image/webp'],
  ] as const) {
    const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...BASE, image: dataUrl(image, mime) } });
    expect([mime, res.status]).toEqual([mime, 200]);
  }
});

test('the pixel cap is configurable (REELAY_MAX_IMAGE_PIXELS)', async () => {
  const small = await startStack({ REELAY_MAX_IMAGE_PIXELS: '1000' }, { worker: false });
  try {
    const res = await http(small, 'POST', '/v1/videos', { key: small.key, json: { ...BASE, image: dataUrl(solidPng('red', 64)) } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      param: 'image',
      message: 'Invalid parameter: image is 64x64 pixels; images of at most 1000 pixels (0 megapixels) are accepted',
    });
  } finally {
    await small.close();
  }
});

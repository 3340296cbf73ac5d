import { ApiError } from './errors';
import { ModelCatalog } from './catalog';
import { createVideoBodySchema, parseCreateRequest } from './create-request';

const catalog = ModelCatalog.load();
const limits = { maxPromptChars: 100, maxImageBytes: 1_000_000 };
const parse = (body: unknown) => parseCreateRequest(body, catalog, limits);

function refusal(body: unknown): { message: string; param: string | null; code: string } {
  try {
    parse(body);
  } catch (err) {
    if (err instanceof ApiError) return { message: err.message, param: err.param, code: err.code };
    throw err;
  }
  throw new Error('accepted');
}

test('the seed spelling and the OpenAI spelling give the same parameters', () => {
  const seed = parse({ model: 'sora-2', prompt: 'p', duration: 8, width: 1280, height: 720, seed: 5 });
  const openai = parse({ model: 'sora-2', prompt: 'p', seconds: '8', size: '1280x720', seed: 5 });
  expect(openai).toEqual(seed);
  expect(seed).toMatchObject({ durationSeconds: 8, width: 1280, height: 720, fps: 30, n: 1, responseFormat: 'url' });
});

test('multipart text values: decimal numbers, metadata as a JSON string, bracket-notation image_url', () => {
  const input = parse({ prompt: 'p', duration: '2.5', width: '640', height: '360', fps: '24', n: '2', seed: '0', metadata: '{"style":"noir"}' });
  expect(input).toMatchObject({ durationSeconds: 2.5, width: 640, height: 360, fps: 24, n: 2, seed: 0, metadata: { style: 'noir' } });
  const ref = parse({ prompt: 'p', input_reference: { image_url: 'https://example.com/a.png' } });
  expect(ref.image).toEqual({ kind: 'url', url: 'https://example.com/a.png', param: 'input_reference.image_url' });
});

test("keeps the seed's exact messages and names every field", () => {
  expect(refusal({ prompt: 'p', duration: 999 })).toEqual({
    message: 'Invalid parameter: duration must be between 1 and 60 seconds',
    param: 'duration',
    code: 'invalid_parameter',
  });
  expect(refusal({ prompt: 'p', speed: 2 })).toEqual({ message: 'Unknown parameter: speed', param: 'speed', code: 'invalid_parameter' });
  // An unknown field is reported even when another field is also wrong.
  expect(refusal({ prompt: 5, speed: 2 }).param).toBe('speed');
  expect(refusal({ prompt: 'p', width: 'wide', height: 64 })).toMatchObject({ message: 'Invalid parameter: width must be an integer' });
  expect(refusal({ prompt: 'p', seconds: 'four' })).toMatchObject({ message: 'Invalid parameter: seconds must be a number' });
  expect(refusal({ prompt: 'p', metadata: 'nope' })).toMatchObject({ message: 'Invalid parameter: metadata must be a JSON object' });
  expect(refusal({ prompt: 'p', duration: 4, seconds: '8' })).toMatchObject({
    param: 'seconds',
    message: 'Invalid parameter: seconds conflicts with duration; send one of them',
  });
  expect(refusal({ model: 'sora-2', prompt: 'p', size: '640x360' })).toMatchObject({ message: 'Invalid parameter: size must be one of 720x1280, 1280x720' });
  expect(refusal({ prompt: 'p'.repeat(101) })).toMatchObject({ message: 'Invalid parameter: prompt must be at most 100 characters' });
  expect(refusal([1])).toMatchObject({ code: 'invalid_json', param: null });
});

test('the schema itself says nothing about per-model limits (those are catalog checks)', () => {
  expect(createVideoBodySchema.safeParse({ prompt: 'p', duration: 999 }).success).toBe(true);
  expect(createVideoBodySchema.safeParse({ prompt: 'p', duration: 'x' }).success).toBe(false);
});

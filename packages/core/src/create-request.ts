import { ApiError, invalidParameter } from './errors';
import { describeRange, type ModelCatalog, type ModelSpec } from './catalog';
import { randomSeed, SEED_MAX } from './ids';
import { decodeImageString, sniffImage, type ImageBytes } from './image';

/** Request fields accepted by POST /v1/videos (seed spec + OpenAI spellings). */
export const CREATE_FIELDS = [
  'model', 'prompt', 'image', 'input_reference', 'duration', 'seconds', 'width', 'height', 'size',
  'fps', 'seed', 'n', 'response_format', 'user', 'metadata', 'callback_url',
] as const;

export type ImageInput = { kind: 'url'; url: string } | { kind: 'bytes'; image: ImageBytes };

export interface CreateVideoInput {
  model: ModelSpec;
  prompt: string | null;
  image: ImageInput | null;
  durationSeconds: number;
  width: number;
  height: number;
  fps: number;
  seed: number;
  n: number;
  responseFormat: 'url' | 'b64_json';
  user: string | null;
  metadata: Record<string, unknown>;
  callbackUrl: string | null;
}

export interface CreateLimits {
  maxPromptChars: number;
  maxImageBytes: number;
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const INTEGER = /^[+-]?\d+$/;

function toNumber(param: string, v: unknown, integer: boolean): number | undefined {
  if (v === undefined || v === null) return undefined;
  let num: number;
  if (typeof v === 'number') num = v;
  else if (typeof v === 'string' && (integer ? INTEGER : DECIMAL).test(v.trim())) num = Number(v.trim());
  else throw invalidParameter(param, integer ? 'must be an integer' : 'must be a number');
  if (!Number.isFinite(num)) throw invalidParameter(param, 'must be a finite number');
  if (integer && !Number.isInteger(num)) throw invalidParameter(param, 'must be an integer');
  return num;
}

function toStr(param: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParameter(param, 'must be a string');
  return v;
}

function checkIn(param: string, value: number, r: { min: number; max: number } | { values: number[] }, unit: string): void {
  const ok = 'values' in r ? r.values.includes(value) : value >= r.min && value <= r.max;
  if (!ok) throw invalidParameter(param, `must be ${describeRange(r, unit)}`);
}

function parseSize(v: string): [number, number] {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(v.trim());
  if (!m) throw invalidParameter('size', 'must be "WIDTHxHEIGHT", e.g. "1280x720"');
  return [Number(m[1]), Number(m[2])];
}

function parseMetadata(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  let obj = v;
  if (typeof v === 'string') {
    try {
      obj = JSON.parse(v);
    } catch {
      throw invalidParameter('metadata', 'must be a JSON object');
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw invalidParameter('metadata', 'must be an object');
  if (JSON.stringify(obj).length > 16_384) throw invalidParameter('metadata', 'must be at most 16384 bytes of JSON');
  return obj as Record<string, unknown>;
}

function parseImage(v: unknown, param: string, limits: CreateLimits): ImageInput {
  if (typeof v !== 'string' || v.length === 0) throw invalidParameter(param, 'must be an image URL, a data URL or base64 image data');
  if (/^https?:\/\//i.test(v)) {
    if (v.length > 2048) throw invalidParameter(param, 'URL must be at most 2048 characters');
    try {
      new URL(v);
    } catch {
      throw invalidParameter(param, 'must be a valid http(s) URL');
    }
    return { kind: 'url', url: v };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw invalidParameter(param, 'URL must use http or https');
  return { kind: 'bytes', image: decodeImageString(v, param, limits.maxImageBytes) };
}

/**
 * Validates a create request against the catalog and returns the effective parameters.
 * `upload` is an input_reference file from a multipart body.
 */
export function parseCreateRequest(
  body: unknown,
  catalog: ModelCatalog,
  limits: CreateLimits,
  upload?: { buffer: Buffer; field: string } | null,
): CreateVideoInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_json', 'Request body must be a JSON object');
  }
  const raw = body as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(CREATE_FIELDS as readonly string[]).includes(key)) {
      throw new ApiError(400, 'invalid_parameter', `Unknown parameter: ${key}`, key);
    }
  }

  const modelName = toStr('model', raw.model);
  const model = modelName === undefined ? catalog.defaultModel : catalog.get(modelName);
  if (!model) {
    const names = catalog.list().map((m) => m.id).join(', ');
    throw invalidParameter('model', `must be one of ${names}`);
  }

  const prompt = toStr('prompt', raw.prompt) ?? null;
  if (prompt !== null && prompt.length > limits.maxPromptChars) {
    throw invalidParameter('prompt', `must be at most ${limits.maxPromptChars} characters`);
  }

  let image: ImageInput | null = null;
  if (raw.image !== undefined && raw.image !== null && raw.image !== '') image = parseImage(raw.image, 'image', limits);
  const ref = raw.input_reference;
  if (ref !== undefined && ref !== null && ref !== '') {
    if (image) throw invalidParameter('input_reference', 'cannot be combined with image');
    if (typeof ref === 'object' && !Array.isArray(ref)) {
      const keys = Object.keys(ref);
      const url = (ref as Record<string, unknown>).image_url;
      if (keys.some((k) => k !== 'image_url') || url === undefined) {
        throw invalidParameter('input_reference', 'must be a file upload or {"image_url": "..."}');
      }
      image = parseImage(url, 'input_reference.image_url', limits);
    } else if (typeof ref === 'string') {
      image = parseImage(ref, 'input_reference', limits);
    } else {
      throw invalidParameter('input_reference', 'must be a file upload or {"image_url": "..."}');
    }
  }
  if (upload) {
    if (image) throw invalidParameter(upload.field, 'cannot be combined with another image input');
    if (upload.buffer.length > limits.maxImageBytes) throw invalidParameter(upload.field, `must be at most ${limits.maxImageBytes} bytes`);
    const mime = sniffImage(upload.buffer);
    if (!mime) throw invalidParameter(upload.field, 'must be a PNG, JPEG or WebP image');
    image = { kind: 'bytes', image: { data: upload.buffer, mime } };
  }
  if (prompt === null && image === null) {
    throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: one of prompt, image or input_reference is required', 'prompt');
  }
  if (prompt !== null && prompt.trim() === '' && image === null) throw invalidParameter('prompt', 'must not be empty');
  if (image && !model.acceptsImage) throw invalidParameter('image', `is not supported by model ${model.id}`);

  // Duration: seed `duration` (number) or OpenAI `seconds` (string); both must agree.
  const duration = toNumber('duration', raw.duration, false);
  const seconds = toNumber('seconds', raw.seconds, false);
  if (duration !== undefined && seconds !== undefined && duration !== seconds) {
    throw invalidParameter('seconds', 'conflicts with duration; send one of them');
  }
  const durationParam = duration !== undefined ? 'duration' : 'seconds';
  const durationSeconds = duration ?? seconds ?? model.defaults.duration;
  checkIn(durationParam, durationSeconds, model.duration, 'seconds');

  // Size: seed `width`/`height` or OpenAI `size`; both must agree.
  let width = toNumber('width', raw.width, true);
  let height = toNumber('height', raw.height, true);
  const sizeStr = toStr('size', raw.size);
  let sizeParam = 'width';
  if (sizeStr !== undefined) {
    const [w, h] = parseSize(sizeStr);
    if ((width !== undefined && width !== w) || (height !== undefined && height !== h)) {
      throw invalidParameter('size', 'conflicts with width/height; send one of them');
    }
    width = w;
    height = h;
    sizeParam = 'size';
  }
  if ((width === undefined) !== (height === undefined)) {
    throw invalidParameter(width === undefined ? 'width' : 'height', 'must be sent together with ' + (width === undefined ? 'height' : 'width'));
  }
  width ??= model.defaults.width;
  height ??= model.defaults.height;
  if ('values' in model.size) {
    if (!model.size.values.includes(`${width}x${height}`)) {
      throw invalidParameter(sizeParam, `must be one of ${model.size.values.join(', ')}`);
    }
  } else {
    checkIn('width', width, model.size.width, 'pixels');
    checkIn('height', height, model.size.height, 'pixels');
    if (width % 2 !== 0) throw invalidParameter('width', 'must be an even number');
    if (height % 2 !== 0) throw invalidParameter('height', 'must be an even number');
  }

  const fps = toNumber('fps', raw.fps, true) ?? model.defaults.fps;
  checkIn('fps', fps, model.fps, 'frames per second');

  const seed = toNumber('seed', raw.seed, true) ?? randomSeed();
  if (seed < 0 || seed > SEED_MAX) throw invalidParameter('seed', `must be between 0 and ${SEED_MAX}`);

  const n = toNumber('n', raw.n, true) ?? 1;
  if (n < 1 || n > model.maxN) throw invalidParameter('n', `must be between 1 and ${model.maxN} for model ${model.id}`);

  const responseFormat = toStr('response_format', raw.response_format) ?? 'url';
  if (responseFormat !== 'url' && responseFormat !== 'b64_json') throw invalidParameter('response_format', 'must be one of url, b64_json');

  const user = toStr('user', raw.user) ?? null;
  if (user !== null && user.length > 256) throw invalidParameter('user', 'must be at most 256 characters');

  const callbackUrl = toStr('callback_url', raw.callback_url) ?? null;
  if (callbackUrl !== null) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(callbackUrl).protocol);
    } catch {
      ok = false;
    }
    if (!ok || callbackUrl.length > 2048) throw invalidParameter('callback_url', 'must be an http(s) URL of at most 2048 characters');
  }

  return {
    model,
    prompt,
    image,
    durationSeconds,
    width,
    height,
    fps,
    seed,
    n,
    responseFormat,
    user,
    metadata: parseMetadata(raw.metadata),
    callbackUrl,
  };
}

import { z } from 'zod';
import { ApiError, invalidParameter } from './errors';
import { describeRange, type ModelCatalog, type ModelSpec } from './catalog';
import { randomSeed, SEED_MAX } from './ids';
import { checkImageBytes, decodeImageString, DEFAULT_MAX_IMAGE_PIXELS, type ImageBytes } from './image';
import { findUnsafe, isIssuedId, MAX_INPUT_DEPTH } from './input-guard';

const DECIMAL = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/;
const INTEGER = /^\s*[+-]?\d+\s*$/;
const METADATA_MAX_JSON = 16_384;
const MAX_CHARACTERS = 10;
/** A character id written in a prompt (ids are `char_` and 20 base62 characters). */
const CHARACTER_IN_PROMPT = /(?<![0-9A-Za-z_])char_[0-9A-Za-z]{20}(?![0-9A-Za-z])/g;

/** A number, or its decimal text (multipart bodies carry every value as text). */
const decimal = (rule: string) =>
  z
    .union([z.number(), z.string().regex(DECIMAL, rule)], { error: rule })
    .transform((v) => Number(v))
    .meta({ description: 'A number, or its decimal form as a string (multipart)' });

const integer = (rule: string) =>
  z
    .union([z.int(), z.string().regex(INTEGER, rule)], { error: rule })
    .transform((v, ctx) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) {
        ctx.addIssue({ code: 'custom', message: 'must be an integer of at most 15 digits' });
        return z.NEVER;
      }
      return n;
    })
    .meta({ description: 'An integer, or its decimal form as a string (multipart)' });

const text = (rule = 'must be a string') => z.string({ error: rule });

const imageUrlObject = z.strictObject(
  { image_url: text().meta({ description: 'http(s) URL, data URL or raw base64 of a PNG/JPEG/WebP image' }) },
  { error: 'must be a file upload or {"image_url": "..."}' },
);

const fileIdObject = z.strictObject(
  { file_id: text().meta({ description: 'Id of an image file of this API key (POST /v1/files, purpose vision or user_data)' }) },
  { error: 'must be a file upload, {"image_url": "..."} or {"file_id": "file-..."}' },
);

/** OpenAI's file id form: `file-` and letters or digits. */
const FILE_ID = /^file-[0-9A-Za-z_-]{1,80}$/;

/** Extended provider parameters: an object, or (in multipart) one JSON string holding an object. */
const metadata = z
  .union([z.record(z.string(), z.unknown()), z.string()], { error: 'must be an object' })
  .transform((v, ctx) => {
    let obj: unknown = v;
    if (typeof v === 'string') {
      if (v.length > METADATA_MAX_JSON) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${METADATA_MAX_JSON} bytes of JSON` });
        return z.NEVER;
      }
      try {
        obj = JSON.parse(v);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
        return z.NEVER;
      }
      // Text that arrived as one string is checked like a body: JSON.stringify below recurses.
      const unsafe = findUnsafe(obj, MAX_INPUT_DEPTH - 1);
      if (unsafe) {
        ctx.addIssue({ code: 'custom', message: unsafe.rule, path: unsafe.tooDeep ? [] : unsafe.path });
        return z.NEVER;
      }
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      ctx.addIssue({ code: 'custom', message: 'must be an object' });
      return z.NEVER;
    }
    if (JSON.stringify(obj).length > METADATA_MAX_JSON) {
      ctx.addIssue({ code: 'custom', message: `must be at most ${METADATA_MAX_JSON} bytes of JSON` });
      return z.NEVER;
    }
    return obj as Record<string, unknown>;
  })
  .meta({ description: 'Extended parameters passed to the provider (negative_prompt, style, quality_level, ...); a JSON string in multipart' });

/**
 * The body of POST /v1/videos, in both spellings (seed: duration/width/height, OpenAI:
 * seconds/size). It states field names and types only; model limits are checked against the
 * catalog afterwards, because they differ per model. `null` means "not sent".
 */
export const createVideoBodySchema = z
  .strictObject({
    model: text().nullish().meta({ description: 'Model id from GET /v1/models; the catalog default when absent' }),
    prompt: text().nullish().meta({ description: 'Text prompt; at least one of prompt, image, input_reference is required' }),
    image: text('must be an image URL, a data URL or base64 image data')
      .nullish()
      .meta({ description: 'http(s) URL, data URL or raw base64 of a PNG/JPEG/WebP image (image-to-video)' }),
    input_reference: z
      .union([text(), imageUrlObject, fileIdObject], { error: 'must be a file upload, {"image_url": "..."} or {"file_id": "file-..."}' })
      .nullish()
      .meta({ description: 'OpenAI form of image: a file (multipart), {"image_url": "..."} or {"file_id": "file-..."} (an image uploaded to /v1/files)' }),
    duration: decimal('must be a number').nullish().meta({ description: 'Seconds (seed spelling)' }),
    seconds: decimal('must be a number').nullish().meta({ description: 'Seconds as a string, e.g. "4" (OpenAI spelling)' }),
    width: integer('must be an integer').nullish(),
    height: integer('must be an integer').nullish(),
    size: z
      .string({ error: 'must be "WIDTHxHEIGHT", e.g. "1280x720"' })
      .regex(/^\s*\d{1,5}x\d{1,5}\s*$/, 'must be "WIDTHxHEIGHT", e.g. "1280x720"')
      .nullish()
      .meta({ description: 'WIDTHxHEIGHT, e.g. "1280x720" (OpenAI spelling of width/height)' }),
    fps: integer('must be an integer').nullish(),
    seed: integer('must be an integer')
      .nullish()
      .meta({ description: `0..${SEED_MAX}; Reelay picks one when absent and returns it` }),
    n: integer('must be an integer').nullish().meta({ description: "Number of videos, 1..the model's max_n" }),
    response_format: z.enum(['url', 'b64_json'], { error: 'must be one of url, b64_json' }).nullish(),
    user: text().max(256, 'must be at most 256 characters').nullish().meta({ description: 'End-user id, stored and filterable' }),
    metadata: metadata.nullish(),
    characters: z
      .array(z.union([text(), z.strictObject({ id: text() })], { error: 'must be a character id or {"id": "char_..."}' }), {
        error: 'must be a list of character ids',
      })
      .max(MAX_CHARACTERS, `must name at most ${MAX_CHARACTERS} characters`)
      .nullish()
      .meta({ description: 'Characters (from POST /v1/videos/characters) to cast; ids written in the prompt count too' }),
    callback_url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL of at most 2048 characters' })
      .max(2048, 'must be an http(s) URL of at most 2048 characters')
      .regex(/^https?:\/\//i, 'must be an http(s) URL of at most 2048 characters')
      .nullish()
      .meta({ description: 'Webhook for this task' }),
  })
  .meta({ id: 'CreateVideoRequest' });

export type CreateVideoBody = z.output<typeof createVideoBodySchema>;

/** Request fields accepted by POST /v1/videos (seed spec + OpenAI spellings). */
export const CREATE_FIELDS = Object.keys(createVideoBodySchema.shape) as (keyof CreateVideoBody)[];

/** POST /v1/videos/{id}/remix: a new prompt for a completed video. */
export const remixVideoBodySchema = z
  .strictObject({ prompt: text().min(1, 'must not be empty').meta({ description: 'The new prompt' }) })
  .meta({ id: 'RemixVideoRequest' });

/** `video` of an edit or extension: `{"id": "vid_…"}` (in multipart `video[id]`), or an MP4 upload (not in the body). */
const videoReference = z
  .strictObject({ id: text().meta({ description: 'Id of a completed video of this API key' }) }, { error: 'must be an MP4 upload or {"id": "vid_..."}' })
  .meta({ description: 'The source: {"id": "vid_..."} of a completed video of this key, or an MP4 file (multipart)' });

const sourceFields = {
  model: text().nullish().meta({ description: "Model that renders it; the source video's model, or the catalog default for an upload" }),
  prompt: text().min(1, 'must not be empty').meta({ description: 'What the new video should show' }),
  video: videoReference.nullish(),
  response_format: z.enum(['url', 'b64_json'], { error: 'must be one of url, b64_json' }).nullish(),
  user: text().max(256, 'must be at most 256 characters').nullish(),
};

/** POST /v1/videos/edits: the source re-rendered under a new prompt, same duration and size. */
export const editVideoBodySchema = z.strictObject(sourceFields).meta({ id: 'EditVideoRequest' });

/** POST /v1/videos/extensions: the source followed by `seconds` more. */
export const extendVideoBodySchema = z
  .strictObject({ ...sourceFields, seconds: decimal('must be a number').meta({ description: 'Seconds to add after the source, e.g. "4"' }) })
  .meta({ id: 'ExtendVideoRequest' });

export type EditVideoBody = z.output<typeof editVideoBodySchema>;
export type ExtendVideoBody = z.output<typeof extendVideoBodySchema>;

/** POST /v1/videos/characters: a name and the `video` (an MP4 upload, or `{"id"}` of a completed video of the key). */
export const createCharacterBodySchema = z
  .strictObject({
    name: text().trim().min(1, 'must not be empty').max(80, 'must be at most 80 characters').meta({ description: 'Display name of the character' }),
    video: videoReference.nullish(),
  })
  .meta({ id: 'CreateCharacterRequest' });

/** The first problem zod found, as the API's 400 (an unknown field is reported before the rest). */
export function zodIssueToApiError(error: z.ZodError): ApiError {
  const issues = [...error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  const issue = issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = [...issue.path, issue.keys[0]!].join('.');
    return new ApiError(400, 'invalid_parameter', `Unknown parameter: ${key}`, key);
  }
  if (issue.path.length === 0) return new ApiError(400, 'invalid_json', 'Request body must be a JSON object');
  const param = issue.path.join('.');
  return invalidParameter(param, issue.message);
}

/** Checks a body against a schema, answering 400s in the API's words. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_json', 'Request body must be a JSON object');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw zodIssueToApiError(parsed.error);
  return parsed.data;
}

/** An image input and the field it came in (named by a 400 about it). */
export type ImageInput =
  | { kind: 'url'; url: string; param: string }
  | { kind: 'bytes'; image: ImageBytes; param: string }
  /** A file the key stored earlier; its bytes are looked up (and checked like an upload) at create. */
  | { kind: 'file'; fileId: string; param: string };

/** What a render's outputs are: length, frame size and rate, seed, and how many videos. */
export interface VideoShape {
  durationSeconds: number;
  width: number;
  height: number;
  fps: number;
  seed: number;
  n: number;
}

export interface CreateVideoInput extends VideoShape {
  model: ModelSpec;
  prompt: string | null;
  image: ImageInput | null;
  responseFormat: 'url' | 'b64_json';
  user: string | null;
  metadata: Record<string, unknown>;
  callbackUrl: string | null;
  /** Characters the request names (`characters`, then ids in the prompt), without repeats; ownership is checked later. */
  characterIds: string[];
}

/** The task columns a create request sets as they are: the same for a single create and a batch line. */
export function requestedTaskFields(input: CreateVideoInput) {
  return {
    model: input.model.id,
    prompt: input.prompt,
    durationSeconds: input.durationSeconds,
    width: input.width,
    height: input.height,
    fps: input.fps,
    seed: BigInt(input.seed),
    n: input.n,
    responseFormat: input.responseFormat,
    user: input.user,
    metadata: input.metadata as object,
    callbackUrl: input.callbackUrl,
  };
}

export interface CreateLimits {
  maxPromptChars: number;
  maxImageBytes: number;
  /** Width × height of an input image (REELAY_MAX_IMAGE_PIXELS). */
  maxImagePixels?: number;
}

export function checkIn(param: string, value: number, r: { min: number; max: number } | { values: number[] }, unit: string): void {
  const ok = 'values' in r ? r.values.includes(value) : value >= r.min && value <= r.max;
  if (!ok) throw invalidParameter(param, `must be ${describeRange(r, unit)}`);
}

function parseImage(v: string, param: string, limits: CreateLimits): ImageInput {
  if (v.length === 0) throw invalidParameter(param, 'must be an image URL, a data URL or base64 image data');
  if (/^https?:\/\//i.test(v)) {
    if (v.length > 2048) throw invalidParameter(param, 'URL must be at most 2048 characters');
    try {
      new URL(v);
    } catch {
      throw invalidParameter(param, 'must be a valid http(s) URL');
    }
    return { kind: 'url', url: v, param };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw invalidParameter(param, 'URL must use http or https');
  return { kind: 'bytes', image: decodeImageString(v, param, limits.maxImageBytes, limits.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS), param };
}

const given = <T>(v: T | null | undefined): v is T => v !== undefined && v !== null;

/** The model a request names (or the catalog default); an unknown name is a 400 listing the models. */
export function resolveModel(catalog: ModelCatalog, name: string | null | undefined): ModelSpec {
  const model = given(name) ? catalog.get(name) : catalog.defaultModel;
  if (!model)
    throw invalidParameter(
      'model',
      `must be one of ${catalog
        .list()
        .map((m) => m.id)
        .join(', ')}`,
    );
  return model;
}

export function checkPrompt(prompt: string | null, limits: CreateLimits): void {
  if (prompt !== null && prompt.length > limits.maxPromptChars) {
    throw invalidParameter('prompt', `must be at most ${limits.maxPromptChars} characters`);
  }
}

/**
 * Validates a create request: its shape with `createVideoBodySchema`, then the chosen model's
 * limits from the catalog. Returns the effective parameters. `upload` is an input_reference
 * file from a multipart body.
 */
export function parseCreateRequest(
  body: unknown,
  catalog: ModelCatalog,
  limits: CreateLimits,
  upload?: { buffer: Buffer; field: string } | null,
): CreateVideoInput {
  const raw = parseBody(createVideoBodySchema, body);
  const model = resolveModel(catalog, raw.model);

  const prompt = raw.prompt ?? null;
  checkPrompt(prompt, limits);

  let image: ImageInput | null = null;
  if (given(raw.image) && raw.image !== '') image = parseImage(raw.image, 'image', limits);
  const ref = raw.input_reference;
  if (given(ref) && ref !== '') {
    if (image) throw invalidParameter('input_reference', 'cannot be combined with image');
    if (typeof ref === 'string') image = parseImage(ref, 'input_reference', limits);
    else if ('file_id' in ref) {
      if (!FILE_ID.test(ref.file_id)) throw invalidParameter('input_reference.file_id', 'must be a file id (file-...)');
      image = { kind: 'file', fileId: ref.file_id, param: 'input_reference.file_id' };
    } else image = parseImage(ref.image_url, 'input_reference.image_url', limits);
  }
  if (upload) {
    if (image) throw invalidParameter(upload.field, 'cannot be combined with another image input');
    if (upload.buffer.length > limits.maxImageBytes) throw invalidParameter(upload.field, `must be at most ${limits.maxImageBytes} bytes`);
    image = { kind: 'bytes', image: checkImageBytes(upload.buffer, upload.field, limits.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS), param: upload.field };
  }
  if (prompt === null && image === null) {
    throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: one of prompt, image or input_reference is required', 'prompt');
  }
  if (prompt !== null && prompt.trim() === '' && image === null) throw invalidParameter('prompt', 'must not be empty');
  if (image && !model.acceptsImage) throw invalidParameter('image', `is not supported by model ${model.id}`);

  // Duration: seed `duration` or OpenAI `seconds`; both must agree.
  const duration = raw.duration ?? undefined;
  const seconds = raw.seconds ?? undefined;
  if (duration !== undefined && seconds !== undefined && duration !== seconds) {
    throw invalidParameter('seconds', 'conflicts with duration; send one of them');
  }
  const durationParam = duration !== undefined ? 'duration' : 'seconds';
  const durationSeconds = duration ?? seconds ?? model.defaults.duration;
  checkIn(durationParam, durationSeconds, model.duration, 'seconds');

  // Size: seed `width`/`height` or OpenAI `size`; both must agree.
  let width = raw.width ?? undefined;
  let height = raw.height ?? undefined;
  let sizeParam = 'width';
  if (given(raw.size)) {
    const [w, h] = raw.size.trim().split('x').map(Number) as [number, number];
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
  checkSize(model, width, height, sizeParam);

  const fps = raw.fps ?? model.defaults.fps;
  checkIn('fps', fps, model.fps, 'frames per second');

  const seed = raw.seed ?? randomSeed();
  if (seed < 0 || seed > SEED_MAX) throw invalidParameter('seed', `must be between 0 and ${SEED_MAX}`);

  const n = raw.n ?? 1;
  if (n < 1 || n > model.maxN) throw invalidParameter('n', `must be between 1 and ${model.maxN} for model ${model.id}`);

  const characterIds: string[] = [];
  for (const [i, c] of (raw.characters ?? []).entries()) {
    const id = typeof c === 'string' ? c : c.id;
    if (!isIssuedId('char', id)) throw invalidParameter(`characters.${i}`, 'must be a character id (char_...)');
    characterIds.push(id);
  }
  for (const m of (prompt ?? '').matchAll(CHARACTER_IN_PROMPT)) characterIds.push(m[0]);
  const uniqueCharacters = [...new Set(characterIds)];
  if (uniqueCharacters.length > MAX_CHARACTERS) throw invalidParameter('characters', `must name at most ${MAX_CHARACTERS} characters`);

  return {
    model,
    prompt,
    image,
    characterIds: uniqueCharacters,
    durationSeconds,
    width,
    height,
    fps,
    seed,
    n,
    responseFormat: raw.response_format ?? 'url',
    user: raw.user ?? null,
    metadata: raw.metadata ?? {},
    callbackUrl: raw.callback_url ?? null,
  };
}

/** Why a size is outside a model's limits (as the rest of a 400 message), or null when it fits. */
export function sizeProblem(model: ModelSpec, width: number, height: number): string | null {
  if ('values' in model.size) return model.size.values.includes(`${width}x${height}`) ? null : `must be one of ${model.size.values.join(', ')}`;
  const { width: wr, height: hr } = model.size;
  if (width < wr.min || width > wr.max) return `must be ${wr.min}..${wr.max} pixels wide`;
  if (height < hr.min || height > hr.max) return `must be ${hr.min}..${hr.max} pixels high`;
  if (width % 2 !== 0 || height % 2 !== 0) return 'must have an even width and height';
  return null;
}

function checkSize(model: ModelSpec, width: number, height: number, sizeParam: string): void {
  if ('values' in model.size) {
    if (!model.size.values.includes(`${width}x${height}`)) {
      throw invalidParameter(sizeParam, `must be one of ${model.size.values.join(', ')}`);
    }
    return;
  }
  checkIn('width', width, model.size.width, 'pixels');
  checkIn('height', height, model.size.height, 'pixels');
  if (width % 2 !== 0) throw invalidParameter('width', 'must be an even number');
  if (height % 2 !== 0) throw invalidParameter('height', 'must be an even number');
}

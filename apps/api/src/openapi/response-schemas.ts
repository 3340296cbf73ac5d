import { z } from 'zod';

/** Response bodies, described for the OpenAPI document (the code that builds them is in services/). */
export const errorResponseSchema = z
  .object({
    error: z.object({
      message: z.string().meta({ description: 'Names the field and the rule' }),
      code: z.string().meta({ description: 'invalid_parameter, invalid_json, not_found, video_not_ready, ...' }),
      type: z.string(),
      param: z.string().nullable(),
    }),
  })
  .meta({ id: 'Error' });

export const videoSchema = z
  .object({
    id: z.string().meta({ examples: ['vid_abc123xyz456'] }),
    object: z.literal('video'),
    model: z.string(),
    status: z
      .enum(['pending', 'processing', 'completed', 'failed', 'queued', 'in_progress'])
      .meta({ description: 'Seed words (pending, processing) or OpenAI words (queued, in_progress), per deployment or key' }),
    progress: z.int().min(0).max(100),
    created_at: z.int(),
    completed_at: z.int().nullable(),
    expires_at: z.int().nullable(),
    seconds: z.string().meta({ description: '"10.0" (seed dialect) or "10" (OpenAI dialect)' }),
    size: z.string().meta({ examples: ['1920x1080'] }),
    error: z.object({ message: z.string(), code: z.string() }).nullable(),
    metadata: z.looseObject({ fps: z.int(), seed: z.int() }).meta({ description: 'Effective fps and seed, plus the extended parameters' }),
    prompt: z.string().nullable(),
    user: z.string().nullable(),
    n: z.int(),
    remixed_from_video_id: z.string().nullable(),
    url: z.string().optional().meta({ description: 'Completed: signed link to the content, usable without a key until expires_at' }),
    urls: z.array(z.string()).optional().meta({ description: 'n > 1: one signed link per index' }),
    b64_json: z
      .union([z.string(), z.array(z.string())])
      .nullable()
      .optional()
      .meta({ description: 'response_format b64_json: the MP4 as base64 (array for n > 1); null above REELAY_MAX_B64_BYTES' }),
    b64_json_error: z.object({ code: z.string(), message: z.string() }).optional().meta({ description: 'Why b64_json is null' }),
  })
  .meta({ id: 'Video' });

export const videoListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(videoSchema),
    first_id: z.string().nullable(),
    last_id: z.string().nullable(),
    has_more: z.boolean(),
  })
  .meta({ id: 'VideoList' });

export const videoDeletedSchema = z
  .object({ id: z.string(), object: z.literal('video.deleted'), deleted: z.literal(true) })
  .meta({ id: 'VideoDeleted' });

const limit = z.union([z.object({ min: z.number(), max: z.number() }), z.object({ values: z.array(z.number()) })]);

export const modelSchema = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.int(),
    owned_by: z.literal('reelay'),
    description: z.string(),
    limits: z.object({
      seconds: limit,
      size: z.union([
        z.object({ values: z.array(z.string()) }),
        z.object({ width: z.object({ min: z.number(), max: z.number() }), height: z.object({ min: z.number(), max: z.number() }), even_only: z.boolean() }),
      ]),
      fps: limit,
      max_n: z.int(),
    }),
    defaults: z.object({ seconds: z.number(), size: z.string(), fps: z.int() }),
    capabilities: z.object({ image_input: z.boolean(), remix: z.boolean() }),
  })
  .meta({ id: 'Model' });

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).meta({ id: 'ModelList' });

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
    cost_micros: z.int().nullable().meta({ description: 'Settled charge in micro-units (1/1,000,000 of the currency); null until the task completes and is charged' }),
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

/** OpenAI's VideoCreateCharacterResponse / VideoGetCharacterResponse: exactly these three fields. */
export const characterSchema = z
  .object({
    id: z.string().meta({ examples: ['char_8Hq2bQ0nT5xWcL3mZr7a'] }),
    name: z.string(),
    created_at: z.number().int().meta({ description: 'Unix seconds' }),
  })
  .meta({ id: 'Character' });

export const modelUpstreamSchema = z
  .object({
    adapter: z.string().meta({ description: 'The adapter of the target tried first: "preview" is the built-in renderer (placeholder clips, no real model)', examples: ['preview', 'openai-compatible', 'replicate'] }),
    targets: z
      .array(
        z.object({
          adapter: z.string(),
          model: z.string().nullable().meta({ description: "The upstream's own model name, or null for the adapter's default" }),
          priority: z.int().meta({ description: 'Lower is tried first; targets of equal priority share the load' }),
        }),
      )
      .meta({ description: 'Every target in the order they are tried (failover and load sharing)' }),
  })
  .meta({
    id: 'ModelUpstream',
    description: 'Which adapter serves the model. Never carries credentials, credential names or upstream addresses.',
  });

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
    upstream: modelUpstreamSchema,
  })
  .meta({ id: 'Model' });

export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelSchema) }).meta({ id: 'ModelList' });

export const usageSchema = z
  .object({
    object: z.literal('usage'),
    api_key_id: z.string().optional().meta({ description: 'The key the figures are for (absent in an admin report over every key)' }),
    from: z.string().meta({ examples: ['2026-11-01'] }),
    to: z.string().meta({ examples: ['2026-11-30'] }),
    data: z.array(
      z.object({
        date: z.string().meta({ description: 'UTC day of creation, YYYY-MM-DD' }),
        model: z.string(),
        api_key_id: z.string().optional().meta({ description: 'Admin report only' }),
        tasks: z.int(),
        completed: z.int(),
        failed: z.int(),
        seconds: z.number().meta({ description: 'Seconds of video produced by completed tasks' }),
        cost_micros: z.int().meta({ description: 'Settled charges in micro-units' }),
        reserved_micros: z.int().meta({ description: 'Estimates still held by tasks that have not ended' }),
      }),
    ),
    total: z.object({ tasks: z.int(), seconds: z.number(), cost_micros: z.int() }),
  })
  .meta({ id: 'Usage' });

const apiKeyFields = {
  id: z.string().meta({ examples: ['key_8Hq2bQ0nT5xWcL3mZr7a'] }),
  object: z.literal('api_key'),
  name: z.string(),
  prefix: z.string().meta({ description: 'The first characters of the secret, to recognise it' }),
  status: z.enum(['active', 'revoked']),
  allowed_models: z.array(z.string()).meta({ description: 'Empty: every model' }),
  max_concurrent: z.int().nullable(),
  max_queued: z.int().nullable(),
  rate_limit_per_minute: z.int().nullable(),
  budget_micros: z.int().nullable(),
  committed_micros: z.int().meta({ description: 'Open reservations plus charges, in micro-units' }),
  status_dialect: z.enum(['seed', 'openai']).nullable(),
  webhook_url: z.string().nullable(),
  has_webhook_secret: z.boolean(),
  created_at: z.int(),
  revoked_at: z.int().nullable(),
};

export const apiKeySchema = z.object(apiKeyFields).meta({ id: 'ApiKey', description: 'An API key; its secret is never shown again after create' });

export const apiKeyCreatedSchema = z
  .object({
    ...apiKeyFields,
    key: z.string().meta({ description: 'The secret (Authorization: Bearer <key>), shown this once' }),
    webhook_secret: z.string().optional().meta({ description: 'The generated webhook signing secret, shown this once' }),
  })
  .meta({ id: 'ApiKeyCreated' });

export const apiKeyListSchema = z.object({ object: z.literal('list'), data: z.array(apiKeySchema) }).meta({ id: 'ApiKeyList' });

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export const readinessSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z.record(z.string(), z.string()).meta({ description: '"ok" or why the dependency did not answer', examples: [{ postgres: 'ok', redis: 'ok' }] }),
  })
  .meta({ id: 'Readiness' });

export const webhookReceivedSchema = z.object({ received: z.literal(true) }).meta({ id: 'WebhookReceived' });

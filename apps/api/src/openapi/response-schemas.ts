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
    cost_micros: z
      .int()
      .nullable()
      .meta({ description: 'Settled charge in micro-units (1/1,000,000 of the currency); null until the task completes and is charged' }),
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

export const videoDeletedSchema = z.object({ id: z.string(), object: z.literal('video.deleted'), deleted: z.literal(true) }).meta({ id: 'VideoDeleted' });

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
    adapter: z.string().meta({
      description: 'The adapter of the target tried first: "preview" is the built-in renderer (placeholder clips, no real model)',
      examples: ['preview', 'openai-compatible', 'replicate'],
    }),
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

const isoTime = z.string().meta({ description: 'ISO 8601, UTC', examples: ['2026-12-02T01:02:03.456Z'] });
const adminTaskFields = {
  id: z.string(),
  object: z.literal('admin.task'),
  api_key_id: z.string(),
  key_name: z.string(),
  model: z.string(),
  provider: z.string(),
  target: z.string().nullable().meta({ description: 'The catalog target that accepted the task (adapter|base URL|credential name)' }),
  upstream_model: z.string().nullable(),
  upstream_id: z.string().nullable(),
  status: z.enum(['pending', 'processing', 'completed', 'failed']),
  phase: z
    .enum(['waiting', 'admitted', 'processing', 'completed', 'failed'])
    .meta({ description: 'waiting = waiting for a slot (max_concurrent / provider limits)' }),
  progress: z.int().min(0).max(100),
  prompt: z.string().nullable(),
  user: z.string().nullable(),
  batch_id: z.string().nullable().meta({ description: 'The batch whose line made this task, if any' }),
  seconds: z.number(),
  size: z.string(),
  fps: z.int(),
  seed: z.string(),
  n: z.int(),
  metadata: z.looseObject({}),
  error: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
  submit_rounds: z.int(),
  poll_count: z.int(),
  reserved_micros: z.int(),
  cost_micros: z.int().nullable(),
  upstream_cost_usd: z.number().nullable(),
  created_at: isoTime,
  admitted_at: isoTime.nullable(),
  started_at: isoTime.nullable(),
  completed_at: isoTime.nullable(),
  expires_at: isoTime,
  deleted: z.boolean(),
  queue_seconds: z.number().nullable().meta({ description: 'Create until an upstream accepted it' }),
  run_seconds: z.number().nullable().meta({ description: 'Accepted until it ended' }),
  retried_from_id: z.string().nullable(),
  remixed_from_id: z.string().nullable(),
  request_id: z.string().nullable(),
  video_url: z.string().nullable().meta({ description: 'Signed link to the first video (completed tasks)' }),
  thumbnail_url: z.string().nullable(),
};

export const adminTaskSchema = z.object(adminTaskFields).meta({ id: 'AdminTask', description: 'A task as an operator sees it, whatever key owns it' });

export const taskEventSchema = z
  .object({
    at: isoTime,
    kind: z.enum(['created', 'admitted', 'submitting', 'submit_failed', 'submitted', 'progress', 'poll_error', 'webhook', 'completed', 'failed', 'cancelled']),
    target: z.string().nullable(),
    attempt: z.int().nullable().meta({ description: 'Submit round, or failed polls in a row' }),
    upstream_id: z.string().nullable(),
    progress: z.int().nullable(),
    code: z.string().nullable(),
    message: z.string().nullable(),
    actor: z.enum(['owner', 'operator']).nullable().meta({ description: 'Who cancelled, when not the worker' }),
  })
  .meta({ id: 'TaskEvent' });

export const adminTaskDetailSchema = z
  .object({ ...adminTaskFields, retried_by: z.array(z.string()), timeline: z.array(taskEventSchema) })
  .meta({ id: 'AdminTaskDetail', description: 'A task with its timeline (at most 100 repeatable steps, its end always) and the tasks re-run from it' });

export const adminTaskListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(adminTaskSchema),
    total: z.int().meta({ description: 'Tasks the filters match in all' }),
    has_more: z.boolean(),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `after` for the next page' }),
  })
  .meta({ id: 'AdminTaskList' });

const phaseCounts = z.object({ waiting: z.int(), admitted: z.int(), processing: z.int(), completed: z.int(), failed: z.int() });
export const adminStatsSchema = z
  .object({
    object: z.literal('admin.stats'),
    phases: phaseCounts,
    keys: z.array(z.object({ api_key_id: z.string(), key_name: z.string(), live: z.int(), waiting: z.int(), completed: z.int(), failed: z.int() })),
    targets: z.array(z.object({ target: z.string(), live: z.int(), completed: z.int(), failed: z.int() })),
    last_hour: z.object({
      created: z.int(),
      completed: z.int(),
      failed: z.int(),
      queue_seconds_p50: z.number().nullable(),
      run_seconds_p50: z.number().nullable(),
      total_seconds_p50: z.number().nullable(),
      total_seconds_p95: z.number().nullable(),
    }),
  })
  .meta({ id: 'AdminStats' });

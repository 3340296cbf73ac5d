import { z } from 'zod';
import {
  createBatchBodySchema,
  createCharacterBodySchema,
  createVideoBodySchema,
  editVideoBodySchema,
  extendVideoBodySchema,
  keySettingsSchema,
  listVideosQuerySchema,
  remixVideoBodySchema,
} from '@reelay/core';
import { BATCH_RESPONSE_SCHEMAS, batchPaths } from './batch-paths';
import {
  adminStatsSchema,
  adminTaskDetailSchema,
  adminTaskListSchema,
  adminTaskSchema,
  apiKeyCreatedSchema,
  apiKeyListSchema,
  apiKeySchema,
  characterSchema,
  errorResponseSchema,
  healthSchema,
  modelListSchema,
  modelSchema,
  modelUpstreamSchema,
  readinessSchema,
  usageSchema,
  videoDeletedSchema,
  videoListSchema,
  videoSchema,
  taskEventSchema,
  webhookReceivedSchema,
} from './response-schemas';

type JsonSchema = Record<string, unknown>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

const REQUEST_SCHEMAS = [
  createVideoBodySchema,
  remixVideoBodySchema,
  editVideoBodySchema,
  extendVideoBodySchema,
  createCharacterBodySchema,
  listVideosQuerySchema,
  keySettingsSchema,
  createBatchBodySchema,
];
const RESPONSE_SCHEMAS = [
  errorResponseSchema,
  videoSchema,
  videoListSchema,
  videoDeletedSchema,
  modelSchema,
  modelUpstreamSchema,
  modelListSchema,
  usageSchema,
  apiKeySchema,
  apiKeyCreatedSchema,
  apiKeyListSchema,
  healthSchema,
  readinessSchema,
  characterSchema,
  webhookReceivedSchema,
  adminTaskSchema,
  taskEventSchema,
  adminTaskDetailSchema,
  adminTaskListSchema,
  adminStatsSchema,
  ...BATCH_RESPONSE_SCHEMAS,
];

/** Every schema with an id becomes a component; requests as clients send them, responses as Reelay answers. */
function components(): Record<string, JsonSchema> {
  const idOf = (s: z.ZodType) => z.globalRegistry.get(s)!.id as string;
  const registry = z.registry<{ id: string }>();
  for (const s of [...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS]) registry.add(s, { id: idOf(s) });
  const uri = (id: string) => `#/components/schemas/${id}`;
  const input = z.toJSONSchema(registry, { io: 'input', unrepresentable: 'any', uri }).schemas;
  const output = z.toJSONSchema(registry, { io: 'output', unrepresentable: 'any', uri }).schemas;
  const requestIds = new Set(REQUEST_SCHEMAS.map(idOf));
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries({ ...output, ...pick(input, requestIds) })) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    out[id] = withoutSafeIntegerBounds(rest) as JsonSchema;
  }
  return out;
}

/** zod bounds every integer by ±(2^53 - 1); that says nothing to a reader and made Swagger UI's samples show it. */
function withoutSafeIntegerBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutSafeIntegerBounds);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'minimum' || k === 'maximum') && Math.abs(v as number) === Number.MAX_SAFE_INTEGER) continue;
    out[k] = withoutSafeIntegerBounds(v);
  }
  return out;
}

function pick<T>(obj: Record<string, T>, keys: Set<string>): Record<string, T> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => keys.has(k)));
}

/** The multipart form of a create: every value is text, and input_reference may be a file. */
function multipartCreate(json: JsonSchema): JsonSchema {
  const props = { ...(json.properties as Record<string, JsonSchema>) };
  props.input_reference = {
    description: 'An image file (PNG, JPEG or WebP), or input_reference[image_url] in bracket notation',
    type: 'string',
    format: 'binary',
  };
  props.metadata = { description: 'A JSON object as a string, or metadata[key] fields in bracket notation', type: 'string' };
  return { ...json, properties: props, additionalProperties: false };
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request; the message names the field and the rule',
  401: 'Missing or unknown key (invalid_api_key)',
  403: 'A signed link whose signature or parameters were altered (invalid_signature)',
  404: 'No such object for this key',
  409: 'Not completed yet (video_not_ready), or an Idempotency-Key reused with another body (idempotency_conflict)',
  410: 'The content has expired',
  413: 'Body or upload above the configured limit',
  415: 'Content-Type is not JSON or multipart/form-data',
  416: 'Range not satisfiable',
  429: 'Rate limit (rate_limit_exceeded), queue limit (concurrency_limit_exceeded) or budget (insufficient_quota); see retry-after',
  503: 'A dependency is unavailable; nothing was changed',
};

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });
const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), errorResponse(ERROR_TEXT[s]!)]));
/** An upstream delivery's refusals: its signature, not an API key, is what a 401 is about. */
const webhookErrors = () => ({ ...errors(404, 413, 503), '401': errorResponse('The signature does not verify (invalid_signature)') });

const json = (id: string, description: string) => ({ description, content: { 'application/json': { schema: ref(id) } } });

/** openai-poll-after-ms: sent with a video that is not finished yet (openai-python's create_and_poll waits this long). */
const pollAfterHeader = {
  'openai-poll-after-ms': {
    description: 'While the video is pending or processing: milliseconds to wait before retrieving it again',
    schema: { type: 'integer', minimum: 1 },
  },
};
const videoAnswer = (description: string) => ({ ...json('Video', description), headers: pollAfterHeader });

/** The multipart form of an edit, extension or character: `video` may be the MP4 itself. */
function multipartWithVideo(json: JsonSchema): JsonSchema {
  const props = { ...(json.properties as Record<string, JsonSchema>) };
  props.video = { description: 'An MP4 file, or video[id] (a completed video of this key) in bracket notation', type: 'string', format: 'binary' };
  return { ...json, properties: props, additionalProperties: false };
}

/** A request body with named examples, one schema per media type. */
function body(media: Record<string, { schema: JsonSchema; examples: Record<string, { summary: string; value: unknown }> }>) {
  return { required: true, content: media };
}

// Placeholders in the issued id form: Try it out needs a real id pasted in, and the example test fills its own.
const videoId = {
  name: 'video_id',
  in: 'path',
  required: true,
  description: 'A video id (vid_…) of this key',
  schema: { type: 'string' },
  example: 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e',
};
const keyId = {
  name: 'key_id',
  in: 'path',
  required: true,
  description: 'An API key id (key_…)',
  schema: { type: 'string' },
  example: 'key_8Hq2bQ0nT5xWcL3mZr7a',
};

const day = (name: 'from' | 'to', description: string, example: string) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema: { type: 'string', format: 'date' },
  example,
});
const usageRange = [
  day('from', 'First UTC day, YYYY-MM-DD (default: 29 days before to)', '2026-11-01'),
  day('to', 'Last UTC day, included, YYYY-MM-DD (default: today); the range spans at most 366 days', '2026-11-30'),
];

// A 16x16 PNG, small enough to read; any PNG, JPEG or WebP works the same.
const SAMPLE_PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAABAAAAAQBPJcTWAAAAFklEQVR4nGOwzF1KEmIY1TCqYfhqAACMtksQnt2ukAAAAABJRU5ErkJggg==';

const createExamples = {
  openai: {
    summary: 'OpenAI spelling (seconds, size)',
    value: { model: 'sora-2', prompt: 'A calico cat playing a grand piano on a small stage', seconds: '4', size: '720x1280' },
  },
  seed: {
    summary: 'Seed spelling (duration, width, height, fps), with extended parameters',
    value: {
      model: 'sora-1.0',
      prompt: 'A serene lake at sunrise, mist drifting over the water',
      duration: 5,
      width: 1280,
      height: 720,
      fps: 30,
      seed: 42,
      user: 'user_1234',
      metadata: { style: 'cinematic', negative_prompt: 'text, watermark' },
    },
  },
  image: {
    summary: 'Image to video (the image as a data URL; an http(s) URL works too)',
    value: { model: 'sora-turbo', prompt: 'The colour slowly fades to white', image: SAMPLE_PNG, duration: 2, width: 640, height: 360 },
  },
};

const upstreamWebhookHeaders = [
  { name: 'webhook-id', in: 'header', required: false, description: 'Standard Webhooks message id (Replicate, OpenAI)', schema: { type: 'string' } },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: false,
    description: 'Standard Webhooks timestamp, unix seconds (Replicate, OpenAI)',
    schema: { type: 'string' },
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: false,
    description: 'Standard Webhooks signature "v1,<base64>" (Replicate, OpenAI)',
    schema: { type: 'string' },
  },
];

/** Operations for the Reelay API key (bearerAuth); the default of the document. */
function apiPaths(schemas: Record<string, JsonSchema>) {
  const listQuery = schemas.ListVideosQuery as { properties: Record<string, JsonSchema> };
  const listExamples: Record<string, unknown> = { limit: '10', order: 'desc' };
  const listParams = Object.entries(listQuery.properties).map(([name, schema]) => {
    const { description, ...s } = schema;
    return { name, in: 'query', required: false, description, schema: s, ...(name in listExamples ? { example: listExamples[name] } : {}) };
  });
  return {
    '/v1/videos': {
      post: {
        operationId: 'createVideo',
        tags: ['videos'],
        summary: 'Create a video generation task',
        description:
          'Validated against the model chosen (its limits are in GET /v1/models), then queued; poll GET /v1/videos/{video_id} until completed or failed. ' +
          'JSON and multipart/form-data take the same fields.',
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'A retried create with the same key and body answers the same task; with another body, 409 idempotency_conflict',
            schema: { type: 'string', maxLength: 255 },
          },
        ],
        requestBody: body({
          'application/json': { schema: ref('CreateVideoRequest'), examples: createExamples },
          'multipart/form-data': {
            schema: ref('CreateVideoMultipartRequest'),
            examples: {
              form: {
                summary: 'Form fields as the openai SDK sends them (an input_reference file may be added)',
                value: { model: 'sora-2', prompt: 'Paper boats drifting down a rainy street', seconds: '4', size: '1280x720', 'metadata[style]': 'watercolor' },
              },
            },
          },
        }),
        responses: { '200': videoAnswer('The new task'), ...errors(400, 401, 409, 413, 415, 429, 503) },
      },
      get: {
        operationId: 'listVideos',
        tags: ['videos'],
        summary: "List this key's videos, newest first by default",
        parameters: listParams,
        responses: { '200': json('VideoList', 'One page; the next page is after=<last_id>'), ...errors(400, 401, 429) },
      },
    },
    '/v1/videos/edits': {
      post: {
        operationId: 'editVideo',
        tags: ['videos'],
        summary: "A new video: the source re-rendered under a new prompt, with the source's duration and size",
        description:
          'The source is `video`: `{"id"}` of a completed video of this key, or an uploaded MP4 (probed first: a bad one is a 400 on `video`). ' +
          "The model is the source video's (or `model`); one whose provider cannot edit answers 400 `unsupported_operation`. Accepts an Idempotency-Key like a create.",
        requestBody: body({
          'application/json': {
            schema: ref('EditVideoRequest'),
            examples: {
              byId: {
                summary: 'Edit a completed video of this key',
                value: { prompt: 'The same scene at night, lit by paper lanterns', video: { id: 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e' } },
              },
            },
          },
          'multipart/form-data': {
            schema: ref('EditVideoMultipartRequest'),
            examples: {
              form: {
                summary: 'As the openai SDK sends it (video[id], or a video file)',
                value: { prompt: 'The same scene in heavy snow', 'video[id]': 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e' },
              },
            },
          },
        }),
        responses: { '200': videoAnswer('The new task'), ...errors(400, 401, 409, 410, 413, 415, 429, 503) },
      },
    },
    '/v1/videos/extensions': {
      post: {
        operationId: 'extendVideo',
        tags: ['videos'],
        summary: 'A new video: the source followed by `seconds` more, one continuous MP4',
        description:
          "The output is the source as it is, then a new segment of `seconds` (within the model's duration limits); it is billed for the new seconds. " +
          'The source is `video` as for an edit.',
        requestBody: body({
          'application/json': {
            schema: ref('ExtendVideoRequest'),
            examples: {
              byId: {
                summary: 'Extend a completed video of this key',
                value: { prompt: 'The camera pulls back to show the whole harbour', seconds: '4', video: { id: 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e' } },
              },
            },
          },
          'multipart/form-data': {
            schema: ref('ExtendVideoMultipartRequest'),
            examples: {
              form: {
                summary: 'As the openai SDK sends it',
                value: { prompt: 'And then it starts to rain', seconds: '2', 'video[id]': 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e' },
              },
            },
          },
        }),
        responses: { '200': videoAnswer('The new task'), ...errors(400, 401, 409, 410, 413, 415, 429, 503) },
      },
    },
    '/v1/videos/characters': {
      post: {
        operationId: 'createCharacter',
        tags: ['videos'],
        summary: 'A character from a video (an MP4 upload, or a completed video of this key), kept for this key',
        requestBody: body({
          'multipart/form-data': {
            schema: ref('CreateCharacterMultipartRequest'),
            examples: {
              form: {
                summary: 'A name and the video (here by id; the openai SDK uploads a file)',
                value: { name: 'Captain Kite', 'video[id]': 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e' },
              },
            },
          },
          'application/json': {
            schema: ref('CreateCharacterRequest'),
            examples: {
              byId: { summary: 'From a completed video of this key', value: { name: 'Harbour cat', video: { id: 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e' } } },
            },
          },
        }),
        responses: { '200': json('Character', 'The character'), ...errors(400, 401, 409, 410, 413, 415, 429, 503) },
      },
    },
    '/v1/videos/characters/{character_id}': {
      get: {
        operationId: 'getCharacter',
        tags: ['videos'],
        summary: "A character of this key (another key's is a 404)",
        parameters: [
          {
            name: 'character_id',
            in: 'path',
            required: true,
            description: 'A character id (char_…) of this key',
            schema: { type: 'string' },
            example: 'char_8Hq2bQ0nT5xWcL3mZr7a',
          },
        ],
        responses: { '200': json('Character', 'The character'), ...errors(401, 404, 429) },
      },
    },
    '/v1/videos/{video_id}': {
      get: {
        operationId: 'retrieveVideo',
        tags: ['videos'],
        summary: 'The video object',
        parameters: [videoId],
        responses: { '200': videoAnswer('The video'), ...errors(401, 404, 429) },
      },
      delete: {
        operationId: 'deleteVideo',
        tags: ['videos'],
        summary: 'Delete a video; a running task is cancelled first and its files removed',
        parameters: [videoId],
        responses: { '200': json('VideoDeleted', 'Deleted'), ...errors(401, 404, 429, 503) },
      },
    },
    '/v1/videos/{video_id}/content': {
      get: {
        operationId: 'downloadVideoContent',
        tags: ['videos'],
        summary: 'The bytes of a completed video, thumbnail or spritesheet, with Range support',
        description: "A video object's `url` is a signed link to this operation (expires and signature set): it needs no API key.",
        // A signed link carries its own authorisation.
        security: [{ bearerAuth: [] }, {}],
        parameters: [
          videoId,
          {
            name: 'variant',
            in: 'query',
            required: false,
            schema: { type: 'string', enum: ['video', 'thumbnail', 'spritesheet'], default: 'video' },
            example: 'thumbnail',
          },
          {
            name: 'index',
            in: 'query',
            required: false,
            description: 'Which output when n > 1',
            schema: { type: 'integer', minimum: 0, default: 0 },
            example: 0,
          },
          {
            name: 'Range',
            in: 'header',
            required: false,
            description: 'One byte range; answered with 206',
            schema: { type: 'string' },
            example: 'bytes=0-1023',
          },
          { name: 'expires', in: 'query', required: false, description: 'Signed link: expiry (unix seconds)', schema: { type: 'integer' } },
          {
            name: 'signature',
            in: 'query',
            required: false,
            description: 'Signed link: HMAC-SHA256; with it no API key is needed',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'The content',
            content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
          },
          '206': {
            description: 'Part of the content (Range request)',
            content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
          },
          '302': {
            description:
              'With REELAY_CONTENT_DELIVERY=redirect: the bytes are served by the object store at a short-lived presigned URL (Range works there too)',
            headers: { Location: { description: 'The presigned URL', schema: { type: 'string', format: 'uri' } } },
          },
          '304': { description: 'Not modified (If-None-Match)' },
          ...errors(400, 401, 403, 404, 409, 410, 416, 429),
        },
      },
    },
    '/v1/videos/{video_id}/remix': {
      post: {
        operationId: 'remixVideo',
        tags: ['videos'],
        summary: 'A new task from a completed video with a new prompt',
        parameters: [videoId],
        requestBody: body({
          'application/json': {
            schema: ref('RemixVideoRequest'),
            examples: { night: { summary: 'A new prompt', value: { prompt: 'The same scene at night, lit by paper lanterns' } } },
          },
          'multipart/form-data': {
            schema: ref('RemixVideoRequest'),
            examples: { form: { summary: 'The same as a form field', value: { prompt: 'The same scene in heavy snow' } } },
          },
        }),
        responses: { '200': json('Video', 'The new task (remixed_from_video_id set)'), ...errors(400, 401, 404, 409, 413, 415, 429, 503) },
      },
    },
    '/v1/models': {
      get: {
        operationId: 'listModels',
        tags: ['models'],
        summary: 'Every model with its limits, defaults, capabilities and the adapter that serves it',
        responses: { '200': json('ModelList', 'The catalog'), ...errors(401, 429) },
      },
    },
    '/v1/models/{model_id}': {
      get: {
        operationId: 'retrieveModel',
        tags: ['models'],
        summary: 'One model',
        parameters: [{ name: 'model_id', in: 'path', required: true, schema: { type: 'string' }, example: 'sora-2' }],
        responses: { '200': json('Model', 'The model'), ...errors(401, 404, 429) },
      },
    },
    '/v1/usage': {
      get: {
        operationId: 'getUsage',
        tags: ['usage'],
        summary: "The calling key's own usage by UTC day of creation and model",
        parameters: usageRange,
        responses: { '200': json('Usage', 'Usage and totals'), ...errors(400, 401, 429) },
      },
    },
  };
}

/** Operator operations (REELAY_ADMIN_TOKEN); absent (404) when no token is configured. */
function adminPaths() {
  const admin = [{ adminToken: [] }];
  const settings = (examples: Record<string, { summary: string; value: unknown }>, required?: string[]) =>
    body({ 'application/json': { schema: required ? { allOf: [ref('KeySettings')], required } : ref('KeySettings'), examples } });
  const keyResponses = (description: string) => ({ '200': json('ApiKey', description), ...errors(400, 401, 404) });
  return {
    '/admin/v1/keys': {
      post: {
        operationId: 'createApiKey',
        tags: ['admin'],
        summary: 'Create an API key; the answer shows its secret once',
        security: admin,
        requestBody: settings(
          {
            basic: { summary: 'A key with no limits', value: { name: 'local-testing' } },
            limited: {
              summary: 'A key limited to one model, with a rate limit and a budget',
              value: {
                name: 'acme-production',
                allowed_models: ['sora-2'],
                max_concurrent: 4,
                max_queued: 100,
                rate_limit_per_minute: 120,
                budget_micros: 50_000_000,
                status_dialect: 'openai',
              },
            },
          },
          ['name'],
        ),
        responses: { '201': json('ApiKeyCreated', 'The new key with its secret'), ...errors(400, 401) },
      },
      get: {
        operationId: 'listApiKeys',
        tags: ['admin'],
        summary: 'Every key, never a secret',
        security: admin,
        responses: { '200': json('ApiKeyList', 'The keys'), ...errors(401) },
      },
    },
    '/admin/v1/keys/{key_id}': {
      get: { operationId: 'retrieveApiKey', tags: ['admin'], summary: 'One key', security: admin, parameters: [keyId], responses: keyResponses('The key') },
      patch: {
        operationId: 'updateApiKey',
        tags: ['admin'],
        summary: "Change a key's settings; null clears a limit. Applies from the next request",
        security: admin,
        parameters: [keyId],
        requestBody: settings({ limits: { summary: 'New limits', value: { rate_limit_per_minute: 60, max_queued: 50, budget_micros: null } } }),
        responses: keyResponses('The updated key'),
      },
      delete: {
        operationId: 'deleteApiKey',
        tags: ['admin'],
        summary: 'Revoke a key (same as POST …/revoke)',
        security: admin,
        parameters: [keyId],
        responses: keyResponses('The revoked key'),
      },
    },
    '/admin/v1/keys/{key_id}/revoke': {
      post: {
        operationId: 'revokeApiKey',
        tags: ['admin'],
        summary: 'Revoke a key; its requests answer 401 from now on',
        security: admin,
        parameters: [keyId],
        responses: keyResponses('The revoked key'),
      },
    },
    '/admin/v1/usage': {
      get: {
        operationId: 'getAdminUsage',
        tags: ['admin'],
        summary: 'Usage by UTC day, model and key, across keys or for one',
        security: admin,
        parameters: [...usageRange, { name: 'api_key_id', in: 'query', required: false, description: 'Only this key (key_…)', schema: { type: 'string' } }],
        responses: { '200': json('Usage', 'Usage and totals'), ...errors(400, 401) },
      },
    },
    '/admin/v1/tasks': {
      get: {
        operationId: 'searchTasks',
        tags: ['admin'],
        summary: 'Tasks across every key, newest first, filtered, with the total they match; cursor paging',
        description: 'Every filter is optional and they combine (AND). An unknown parameter, a repeated one or a bad value is a 400 naming it.',
        security: admin,
        parameters: [
          {
            name: 'phase',
            in: 'query',
            required: false,
            description: 'waiting (for a slot), admitted, processing, completed or failed',
            schema: { type: 'string', enum: ['waiting', 'admitted', 'processing', 'completed', 'failed'] },
            example: 'waiting',
          },
          { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: ['pending', 'processing', 'completed', 'failed'] } },
          {
            name: 'error_code',
            in: 'query',
            required: false,
            description: "A failed task's code, e.g. cancelled or upstream_error",
            schema: { type: 'string' },
          },
          { name: 'api_key_id', in: 'query', required: false, description: "Only this key's tasks (key_…)", schema: { type: 'string' } },
          { name: 'batch_id', in: 'query', required: false, description: "Only the tasks made from this batch's lines (batch_…)", schema: { type: 'string' } },
          { name: 'model', in: 'query', required: false, schema: { type: 'string' } },
          {
            name: 'target',
            in: 'query',
            required: false,
            description: 'A catalog target key (as in `target`) or a bare provider name',
            schema: { type: 'string' },
          },
          { name: 'user', in: 'query', required: false, description: 'The `user` the client sent', schema: { type: 'string' } },
          { name: 'created_after', in: 'query', required: false, description: 'Unix seconds or ISO 8601 (inclusive)', schema: { type: 'string' } },
          { name: 'created_before', in: 'query', required: false, description: 'Unix seconds or ISO 8601 (exclusive)', schema: { type: 'string' } },
          {
            name: 'q',
            in: 'query',
            required: false,
            description: 'Words the prompt contains, case-insensitive (up to 200 characters)',
            schema: { type: 'string' },
            example: 'harbour',
          },
          {
            name: 'include_deleted',
            in: 'query',
            required: false,
            description: 'true: also tasks their owner deleted',
            schema: { type: 'string', enum: ['true', 'false'] },
          },
          { name: 'limit', in: 'query', required: false, description: '1-100, default 20', schema: { type: 'integer', minimum: 1, maximum: 100 }, example: 20 },
          { name: 'after', in: 'query', required: false, description: '`next_cursor` of the previous page', schema: { type: 'string' } },
        ],
        responses: { '200': json('AdminTaskList', 'One page and the total'), ...errors(400, 401) },
      },
    },
    '/admin/v1/tasks/{video_id}': {
      get: {
        operationId: 'retrieveTask',
        tags: ['admin'],
        summary: 'One task of any key, with its timeline',
        security: admin,
        parameters: [videoId],
        responses: { '200': json('AdminTaskDetail', 'The task and its timeline'), ...errors(401, 404) },
      },
    },
    '/admin/v1/tasks/{video_id}/cancel': {
      post: {
        operationId: 'cancelTask',
        tags: ['admin'],
        summary: "Cancel a live task as its owner's delete would (its upstream work is stopped), without deleting it",
        description: 'The task ends failed with code `cancelled`; its timeline says an operator cancelled it. 409 when it already ended.',
        security: admin,
        parameters: [videoId],
        responses: { '200': json('AdminTaskDetail', 'The cancelled task'), ...errors(401, 404, 409, 503) },
      },
    },
    '/admin/v1/tasks/{video_id}/retry': {
      post: {
        operationId: 'retryTask',
        tags: ['admin'],
        summary: 'Run a failed task again as a new task of the same key, linked by retried_from_id',
        description: 'Created and charged like any create of that key (its budget, limits and allowed models apply). 409 unless the task failed.',
        security: admin,
        parameters: [videoId],
        responses: { '201': json('AdminTaskDetail', 'The new task'), ...errors(400, 401, 404, 409, 429, 503) },
      },
    },
    '/admin/v1/stats': {
      get: {
        operationId: 'taskStats',
        tags: ['admin'],
        summary: 'Tasks per phase, per key and per target; throughput and latency over the last hour',
        security: admin,
        responses: { '200': json('AdminStats', 'The counts'), ...errors(401) },
      },
    },
    '/console': {
      get: {
        operationId: 'console',
        tags: ['admin'],
        summary: "The operator's web console: tasks, keys, usage",
        description: 'For a browser: HTTP Basic with any user name and REELAY_ADMIN_TOKEN as password. Its pages call this admin API under /console/api/v1.',
        security: [{ adminBasic: [] }, { adminToken: [] }],
        responses: { '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } }, ...errors(401) },
      },
    },
    '/admin/queues': {
      get: {
        operationId: 'queueDashboard',
        tags: ['admin'],
        summary: 'The queue dashboard (bull-board); read-only unless REELAY_DASHBOARD_WRITE=true',
        description: 'For a browser: HTTP Basic with any user name and REELAY_ADMIN_TOKEN as password; Bearer works too.',
        security: [{ adminBasic: [] }, { adminToken: [] }],
        responses: { '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } }, ...errors(401) },
      },
    },
  };
}

/** Operations without a Reelay key: operations endpoints, upstream callbacks, this document. */
function publicPaths() {
  const none: unknown[] = [];
  const page = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
  const provider = (names: string[], example: string) => ({
    name: 'provider',
    in: 'path',
    required: true,
    description: `The adapter: ${names.join(', ')}`,
    schema: { type: 'string' },
    example,
  });
  return {
    '/healthz': {
      get: {
        operationId: 'health',
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        security: none,
        responses: { '200': json('Health', 'Alive') },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        tags: ['operations'],
        summary: 'Readiness: Postgres and Redis answer',
        security: none,
        responses: { '200': json('Readiness', 'Ready'), '503': json('Readiness', 'A dependency does not answer; checks says which') },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics: HTTP, queues, tasks',
        security: none,
        responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/v1/upstream-webhooks/{provider}': {
      post: {
        operationId: 'upstreamProjectWebhook',
        tags: ['upstream webhooks'],
        summary: "An upstream's account-wide webhook (OpenAI project webhooks) naming the upstream task",
        description:
          "Point the upstream's webhook here and set the target's options.webhookSecretEnv. Authenticated by the signature over the raw body, not by an API key; " +
          'a verified delivery only wakes the task, whose next poll decides the outcome.',
        security: none,
        parameters: [provider(['openai-compatible'], 'openai-compatible'), ...upstreamWebhookHeaders],
        requestBody: body({
          'application/json': {
            schema: { type: 'object', description: "The upstream's event, as it signs it" },
            examples: {
              completed: {
                summary: 'OpenAI video.completed (signed with the project webhook secret)',
                value: {
                  id: 'evt_6bq2bQ0nT5xWcL3m',
                  object: 'event',
                  type: 'video.completed',
                  created_at: 1764614400,
                  data: { id: 'video_68d7512d07848190b3e45da0' },
                },
              },
            },
          },
        }),
        responses: { '200': json('WebhookReceived', 'Verified; the task waiting on it is woken'), ...webhookErrors() },
      },
    },
    '/v1/upstream-webhooks/{provider}/{video_id}': {
      post: {
        operationId: 'upstreamTaskWebhook',
        tags: ['upstream webhooks'],
        summary: 'An upstream saying one task ended (Replicate, fal); Reelay registers this URL on submit',
        description:
          'Needs REELAY_PUBLIC_URL. Authenticated by the provider signature (Standard Webhooks for Replicate, Ed25519 x-fal-webhook-* headers for fal).',
        security: none,
        parameters: [
          provider(['replicate', 'fal'], 'replicate'),
          { ...videoId, description: 'The Reelay video id the callback URL was registered for' },
          ...upstreamWebhookHeaders,
          ...['request-id', 'user-id', 'timestamp', 'signature'].map((h) => ({
            name: `x-fal-webhook-${h}`,
            in: 'header',
            required: false,
            description: 'fal signature header',
            schema: { type: 'string' },
          })),
        ],
        requestBody: body({
          'application/json': {
            schema: { type: 'object', description: "The upstream's delivery, as it signs it" },
            examples: {
              replicate: {
                summary: 'Replicate prediction completed (signed with the account webhook secret)',
                value: { id: 'ufawqhfynnddngldkgtslldrkq', status: 'succeeded', output: 'https://replicate.delivery/example/output.mp4' },
              },
            },
          },
        }),
        responses: { '200': json('WebhookReceived', 'Verified; the task is woken'), ...webhookErrors() },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        tags: ['docs'],
        summary: 'This document',
        security: none,
        responses: { '200': { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/docs': {
      get: {
        operationId: 'docs',
        tags: ['docs'],
        summary: 'Browsable API reference with Try it out (works offline)',
        security: none,
        responses: { '200': page('HTML page') },
      },
    },
  };
}

/**
 * The OpenAPI 3.1 description of the whole HTTP API, built from the same zod schemas the API
 * validates with. Its server is relative: requests from /docs go to the origin that served it.
 */
export function buildOpenApiDocument(): Record<string, unknown> {
  const schemas = components();
  schemas.CreateVideoMultipartRequest = multipartCreate(schemas.CreateVideoRequest!);
  for (const id of ['EditVideo', 'ExtendVideo', 'CreateCharacter']) schemas[`${id}MultipartRequest`] = multipartWithVideo(schemas[`${id}Request`]!);
  const paths = { ...apiPaths(schemas), ...batchPaths({ json, errors }), ...adminPaths(), ...publicPaths() };
  delete schemas.ListVideosQuery; // documented as query parameters instead

  return {
    openapi: '3.1.0',
    info: {
      title: 'Reelay',
      version: '1.0.0',
      description:
        'Self-hosted, OpenAI-compatible video generation API. Create a task, poll it, download the result. ' +
        'Every error has the shape {"error": {"message", "code", "type", "param"}}. ' +
        'GET /v1/models says which adapter serves each model: "preview" is the built-in renderer, which makes placeholder clips, not a real model.',
    },
    servers: [{ url: '/', description: 'The server this document was loaded from' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'videos' },
      { name: 'models' },
      { name: 'usage' },
      { name: 'files', description: "OpenAI's Files API: batch input and output files" },
      { name: 'batches', description: "OpenAI's Batch API for endpoint /v1/videos (docs/batch.md)" },
      { name: 'admin', description: 'Operator API: Authorization: Bearer <REELAY_ADMIN_TOKEN>' },
      { name: 'operations' },
      { name: 'upstream webhooks', description: 'Called by upstream providers, not by clients' },
      { name: 'docs' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: Authorization: Bearer rly_…' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The operator token: Authorization: Bearer <REELAY_ADMIN_TOKEN>' },
        adminBasic: { type: 'http', scheme: 'basic', description: 'Any user name, REELAY_ADMIN_TOKEN as password (for browsers)' },
      },
      schemas,
    },
  };
}

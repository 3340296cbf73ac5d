import { z } from 'zod';
import { createVideoBodySchema, listVideosQuerySchema, remixVideoBodySchema } from '@reelay/core';
import {
  errorResponseSchema,
  modelListSchema,
  modelSchema,
  videoDeletedSchema,
  videoListSchema,
  videoSchema,
} from './response-schemas';

type JsonSchema = Record<string, unknown>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** Every schema with an id becomes a component; requests as clients send them, responses as Reelay answers. */
function components(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const s of [createVideoBodySchema, remixVideoBodySchema, listVideosQuerySchema, errorResponseSchema, videoSchema, videoListSchema, videoDeletedSchema, modelSchema, modelListSchema]) {
    registry.add(s, { id: z.globalRegistry.get(s)!.id as string });
  }
  const uri = (id: string) => `#/components/schemas/${id}`;
  const input = z.toJSONSchema(registry, { io: 'input', unrepresentable: 'any', uri }).schemas;
  const output = z.toJSONSchema(registry, { io: 'output', unrepresentable: 'any', uri }).schemas;
  const requestIds = new Set(['CreateVideoRequest', 'RemixVideoRequest', 'ListVideosQuery']);
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries({ ...output, ...pick(input, requestIds) })) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    out[id] = rest;
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

const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [String(s), { description: ERROR_TEXT[s] ?? 'Error', content: { 'application/json': { schema: ref('Error') } } }]),
  );

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request; the message names the field and the rule',
  401: 'Missing or unknown API key',
  403: 'A signed link whose signature or parameters were altered (invalid_signature)',
  416: 'Range not satisfiable',
  404: 'No such video for this key',
  409: 'The video is not completed yet',
  410: 'The content has expired',
  413: 'Body or upload above the configured limit',
  415: 'Content-Type is not JSON or multipart/form-data',
  503: 'Queue unavailable; nothing was changed',
};

const videoId = { name: 'video_id', in: 'path', required: true, schema: { type: 'string' } };
const json = (id: string, description: string) => ({ description, content: { 'application/json': { schema: ref(id) } } });

/** The OpenAPI 3.1 description of the whole HTTP API, built from the same zod schemas the API validates with. */
export function buildOpenApiDocument(opts: { serverUrl?: string } = {}): Record<string, unknown> {
  const schemas = components();
  schemas.CreateVideoMultipartRequest = multipartCreate(schemas.CreateVideoRequest!);
  const listQuery = schemas.ListVideosQuery as { properties: Record<string, JsonSchema> };
  delete schemas.ListVideosQuery;
  const listParams = Object.entries(listQuery.properties).map(([name, schema]) => {
    const { description, ...s } = schema;
    return { name, in: 'query', required: false, description, schema: s };
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Reelay',
      version: '1.0.0',
      description:
        'Self-hosted, OpenAI-compatible video generation API. Create a task, poll it, download the result. ' +
        'Every error has the shape {"error": {"message", "code", "type", "param"}}.',
    },
    servers: [{ url: opts.serverUrl ?? '/' }],
    security: [{ bearerAuth: [] }],
    paths: {
      '/v1/videos': {
        post: {
          operationId: 'createVideo',
          summary: 'Create a video generation task',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string' } }],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('CreateVideoRequest') },
              'multipart/form-data': { schema: ref('CreateVideoMultipartRequest') },
            },
          },
          responses: { '200': json('Video', 'The new task'), ...errors(400, 401, 413, 415, 503) },
        },
        get: {
          operationId: 'listVideos',
          summary: "List this key's videos, newest first by default",
          parameters: listParams,
          responses: { '200': json('VideoList', 'One page; the next page is after=<last_id>'), ...errors(400, 401) },
        },
      },
      '/v1/videos/{video_id}': {
        get: {
          operationId: 'retrieveVideo',
          summary: 'The video object',
          parameters: [videoId],
          responses: { '200': json('Video', 'The video'), ...errors(401, 404) },
        },
        delete: {
          operationId: 'deleteVideo',
          summary: 'Delete a video; a running task is cancelled first and its files removed',
          parameters: [videoId],
          responses: { '200': json('VideoDeleted', 'Deleted'), ...errors(401, 404, 503) },
        },
      },
      '/v1/videos/{video_id}/content': {
        get: {
          operationId: 'downloadVideoContent',
          summary: 'The bytes of a completed video, thumbnail or spritesheet, with Range support',
          parameters: [
            videoId,
            { name: 'variant', in: 'query', required: false, schema: { type: 'string', enum: ['video', 'thumbnail', 'spritesheet'], default: 'video' } },
            { name: 'index', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 } },
            { name: 'Range', in: 'header', required: false, schema: { type: 'string' } },
            { name: 'expires', in: 'query', required: false, description: 'Signed link: expiry (unix seconds)', schema: { type: 'integer' } },
            { name: 'signature', in: 'query', required: false, description: 'Signed link: HMAC-SHA256; with it no API key is needed', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'The content',
              content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } }, 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
            },
            '206': { description: 'Part of the content (Range request)', content: { 'video/mp4': { schema: { type: 'string', format: 'binary' } } } },
            '304': { description: 'Not modified (If-None-Match)' },
            ...errors(400, 401, 403, 404, 409, 410, 416),
          },
        },
      },
      '/v1/videos/{video_id}/remix': {
        post: {
          operationId: 'remixVideo',
          summary: 'A new task from a completed video with a new prompt',
          parameters: [videoId],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: ref('RemixVideoRequest') }, 'multipart/form-data': { schema: ref('RemixVideoRequest') } },
          },
          responses: { '200': json('Video', 'The new task (remixed_from_video_id set)'), ...errors(400, 401, 404, 409, 503) },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'listModels',
          summary: 'Every model with its limits, defaults and capabilities',
          responses: { '200': json('ModelList', 'The catalog'), ...errors(401) },
        },
      },
      '/v1/models/{model_id}': {
        get: {
          operationId: 'retrieveModel',
          summary: 'One model',
          parameters: [{ name: 'model_id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': json('Model', 'The model'), ...errors(401, 404) },
        },
      },
      '/openapi.json': {
        get: { operationId: 'openapi', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1 document' } } },
      },
      '/docs': {
        get: { operationId: 'docs', summary: 'Browsable API reference (works offline)', security: [], responses: { '200': { description: 'HTML page' } } },
      },
      '/healthz': {
        get: { operationId: 'health', summary: 'Liveness', security: [], responses: { '200': { description: '{"status":"ok"}' } } },
      },
    },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <api key>' } },
      schemas,
    },
  };
}

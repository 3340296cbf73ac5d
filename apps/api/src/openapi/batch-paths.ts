import { z } from 'zod';

/** The Files and Batches APIs in the OpenAPI document: OpenAI's shapes, endpoint /v1/videos only. */
type JsonSchema = Record<string, unknown>;
const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

const fileSchema = z
  .object({
    id: z.string().meta({ examples: ['file-8Hq2bQ0nT5xWcL3mZr7aKd1e'] }),
    object: z.literal('file'),
    bytes: z.int(),
    created_at: z.int(),
    expires_at: z.int().nullable(),
    filename: z.string(),
    purpose: z.enum(['batch', 'batch_output', 'vision', 'user_data']),
    status: z.literal('processed'),
    status_details: z.null(),
  })
  .meta({ id: 'File' });
const fileListSchema = z
  .object({ object: z.literal('list'), data: z.array(fileSchema), first_id: z.string().nullable(), last_id: z.string().nullable(), has_more: z.boolean() })
  .meta({ id: 'FileList' });
const fileDeletedSchema = z.object({ id: z.string(), object: z.literal('file'), deleted: z.literal(true) }).meta({ id: 'FileDeleted' });

const ts = z.int().nullable();
const batchSchema = z
  .object({
    id: z.string().meta({ examples: ['batch_8Hq2bQ0nT5xWcL3mZr7aKd1e'] }),
    object: z.literal('batch'),
    endpoint: z.literal('/v1/videos'),
    errors: z
      .object({
        object: z.literal('list'),
        data: z.array(z.object({ code: z.string(), message: z.string(), param: z.string().nullable(), line: z.int().nullable() })),
      })
      .nullable()
      .meta({ description: 'Why validation failed, one entry per bad line (line is 1-based)' }),
    input_file_id: z.string(),
    completion_window: z.literal('24h'),
    status: z.enum(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']),
    output_file_id: z.string().nullable(),
    error_file_id: z.string().nullable(),
    created_at: z.int(),
    in_progress_at: ts,
    expires_at: ts,
    finalizing_at: ts,
    completed_at: ts,
    failed_at: ts,
    expired_at: ts,
    cancelling_at: ts,
    cancelled_at: ts,
    request_counts: z.object({ total: z.int(), completed: z.int(), failed: z.int() }),
    metadata: z.record(z.string(), z.string()).nullable(),
  })
  .meta({ id: 'Batch' });
const batchListSchema = z
  .object({ object: z.literal('list'), data: z.array(batchSchema), first_id: z.string().nullable(), last_id: z.string().nullable(), has_more: z.boolean() })
  .meta({ id: 'BatchList' });

export const BATCH_RESPONSE_SCHEMAS = [fileSchema, fileListSchema, fileDeletedSchema, batchSchema, batchListSchema];

const EXAMPLE_LINE = JSON.stringify({
  custom_id: 'request-1',
  method: 'POST',
  url: '/v1/videos',
  body: { model: 'sora-1.0', prompt: 'a lighthouse at dusk', duration: 1, width: 64, height: 64 },
});
const fileId = {
  name: 'file_id',
  in: 'path',
  required: true,
  description: 'A file id (file-…) of this key',
  schema: { type: 'string' },
  example: 'file-8Hq2bQ0nT5xWcL3mZr7aKd1e',
};
const batchId = {
  name: 'batch_id',
  in: 'path',
  required: true,
  description: 'A batch id (batch_…) of this key',
  schema: { type: 'string' },
  example: 'batch_8Hq2bQ0nT5xWcL3mZr7aKd1e',
};

/** The paths; `json`, `errors` and `body` are the document's own helpers. */
export function batchPaths(h: { json: (id: string, description: string) => unknown; errors: (...statuses: number[]) => Record<string, unknown> }) {
  const { json, errors } = h;
  const idempotency = {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description: 'A retry with the same key and request answers with what the first made',
    schema: { type: 'string' },
    example: 'upload-2026-12-02-1',
  };
  return {
    '/v1/files': {
      post: {
        operationId: 'createFile',
        tags: ['files'],
        summary: 'Upload a file (multipart: file, purpose); batch input is JSONL, one request per line',
        parameters: [idempotency],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file', 'purpose'],
                properties: { file: { type: 'string', format: 'binary' }, purpose: { type: 'string', enum: ['batch', 'vision', 'user_data'] } },
              } satisfies JsonSchema,
              examples: { batch: { summary: 'A one-line batch input file', value: { purpose: 'batch', file: `${EXAMPLE_LINE}\n` } } },
            },
          },
        },
        responses: { '200': json('File', 'The stored file'), ...errors(400, 401, 409, 413, 415, 429) },
      },
      get: {
        operationId: 'listFiles',
        tags: ['files'],
        summary: "The key's files, newest first",
        parameters: [
          { name: 'purpose', in: 'query', schema: { type: 'string' }, example: 'batch' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 }, example: '20' },
          { name: 'order', in: 'query', schema: { type: 'string', enum: ['asc', 'desc'] }, example: 'desc' },
          { name: 'after', in: 'query', description: 'A file id: the page after it', schema: { type: 'string' } },
        ],
        responses: { '200': json('FileList', 'A page of files'), ...errors(400, 401, 429) },
      },
    },
    '/v1/files/{file_id}': {
      get: {
        operationId: 'retrieveFile',
        tags: ['files'],
        summary: 'One file',
        parameters: [fileId],
        responses: { '200': json('File', 'The file'), ...errors(401, 404, 429) },
      },
      delete: {
        operationId: 'deleteFile',
        tags: ['files'],
        summary: 'Delete a file and its stored bytes',
        parameters: [fileId],
        responses: { '200': json('FileDeleted', 'Deleted'), ...errors(401, 404, 429) },
      },
    },
    '/v1/files/{file_id}/content': {
      get: {
        operationId: 'downloadFile',
        tags: ['files'],
        summary: "The file's bytes (a batch's output or error file: JSONL)",
        parameters: [fileId],
        responses: {
          '200': { description: 'The bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          ...errors(401, 404, 429),
        },
      },
    },
    '/v1/batches': {
      post: {
        operationId: 'createBatch',
        tags: ['batches'],
        summary: 'Run every line of a batch input file as a video create (endpoint /v1/videos)',
        parameters: [{ ...idempotency, example: 'nightly-batch-2026-12-02' }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: ref('CreateBatchRequest'),
              examples: {
                videos: {
                  summary: 'A batch of video creates',
                  value: { input_file_id: 'file-8Hq2bQ0nT5xWcL3mZr7aKd1e', endpoint: '/v1/videos', completion_window: '24h', metadata: { job: 'nightly' } },
                },
              },
            },
          },
        },
        responses: { '200': json('Batch', 'The batch, validating'), ...errors(400, 401, 409, 429, 503) },
      },
      get: {
        operationId: 'listBatches',
        tags: ['batches'],
        summary: "The key's batches, newest first",
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 }, example: '20' },
          { name: 'after', in: 'query', description: 'A batch id: the page after it', schema: { type: 'string' } },
        ],
        responses: { '200': json('BatchList', 'A page of batches'), ...errors(400, 401, 429) },
      },
    },
    '/v1/batches/{batch_id}': {
      get: {
        operationId: 'retrieveBatch',
        tags: ['batches'],
        summary: 'One batch, with current request counts',
        parameters: [batchId],
        responses: { '200': json('Batch', 'The batch'), ...errors(401, 404, 429) },
      },
    },
    '/v1/batches/{batch_id}/cancel': {
      post: {
        operationId: 'cancelBatch',
        tags: ['batches'],
        summary: 'Cancel: unstarted requests never run, running ones are cancelled, completed ones stay in the output file',
        parameters: [batchId],
        responses: { '200': json('Batch', 'The batch, cancelling'), ...errors(401, 404, 409, 429) },
      },
    },
  };
}

import { z } from 'zod';
import { ApiError } from './errors';
import type { ModelCatalog } from './catalog';
import { assertSafeInput } from './input-guard';
import { parseCreateRequest, type CreateLimits, type CreateVideoInput } from './create-request';

/** The one endpoint a Reelay batch runs (OpenAI's BatchCreateParams.endpoint value for videos). */
export const BATCH_ENDPOINT = '/v1/videos';

/** One entry of a batch's `errors.data` (OpenAI's shape); `line` is 1-based. */
export interface BatchLineError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export type BatchLine = { ok: true; customId: string; input: CreateVideoInput } | { ok: false; error: BatchLineError };

const lineError = (line: number, code: string, message: string, param: string | null = null): BatchLine => ({
  ok: false,
  error: { code, message, param, line },
});
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks one line of a batch input file: `{"custom_id", "method": "POST", "url": "/v1/videos",
 * "body": {…}}`, where body is validated exactly as POST /v1/videos validates a JSON body (both
 * dialects, the model's limits) and must name a model the key may use. Image inputs are not taken
 * in batch lines: they would each be a fetch and a decode before the batch could start.
 */
export function parseBatchLine(text: string, line: number, catalog: ModelCatalog, limits: CreateLimits, allowedModels: readonly string[]): BatchLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return lineError(line, 'invalid_json', `Line ${line} is not valid JSON`);
  }
  if (!isObject(parsed)) return lineError(line, 'invalid_request', `Line ${line} must be a JSON object`);
  try {
    assertSafeInput(parsed);
  } catch (err) {
    return lineError(line, 'invalid_request', `Line ${line}: ${(err as Error).message}`, (err as ApiError).param ?? null);
  }
  const { custom_id: customId, method, url, body } = parsed;
  if (typeof customId !== 'string' || customId.length === 0 || customId.length > 512) {
    return lineError(line, 'invalid_custom_id', `Line ${line}: custom_id must be a string of 1 to 512 characters`, 'custom_id');
  }
  if (method !== 'POST') return lineError(line, 'invalid_method', `Line ${line}: method must be POST`, 'method');
  if (url !== BATCH_ENDPOINT) return lineError(line, 'invalid_url', `Line ${line}: url must be ${BATCH_ENDPOINT}, the batch's endpoint`, 'url');
  if (!isObject(body)) return lineError(line, 'invalid_request', `Line ${line}: body must be a JSON object`, 'body');
  let input: CreateVideoInput;
  try {
    input = parseCreateRequest(body, catalog, limits, null);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return lineError(line, err.code, `Line ${line}: ${err.message}`, err.param ? `body.${err.param}` : 'body');
  }
  if (input.image) return lineError(line, 'invalid_request', `Line ${line}: image inputs are not supported in batch lines`, `body.${input.image.param}`);
  if (allowedModels.length > 0 && !allowedModels.includes(input.model.id)) {
    return lineError(line, 'invalid_parameter', `Line ${line}: model ${input.model.id} is not allowed for this API key`, 'body.model');
  }
  return { ok: true, customId, input };
}

/** POST /v1/batches (OpenAI's BatchCreateParams); `endpoint` and `completion_window` are checked by value after this. */
export const createBatchBodySchema = z
  .strictObject({
    input_file_id: z.string().min(1).max(80).describe('A file uploaded with purpose batch'),
    endpoint: z.string().describe('Only /v1/videos'),
    completion_window: z.string().describe('Only 24h'),
    metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional().describe('Up to 16 key-value pairs'),
    output_expires_after: z
      .object({ anchor: z.literal('created_at'), seconds: z.number().int() })
      .optional()
      .describe("Accepted for compatibility; outputs follow the server's result lifetime"),
  })
  .meta({ id: 'CreateBatchRequest' });
export type CreateBatchBody = z.output<typeof createBatchBodySchema>;

/** GET /v1/files and GET /v1/batches. */
export const listFilesQuerySchema = z.strictObject({
  purpose: z.string().optional(),
  after: z.string().max(80).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});
export const listBatchesQuerySchema = z.strictObject({
  after: z.string().max(80).optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

import { createInterface } from 'node:readline';
import { estimateCostMicros, newVideoId, parseBatchLine, pricePerSecondMicros, requestedTaskFields, timeSlicer, type BatchLineError } from '@reelay/core';
import { findApiKeyById, findFileForOwner, type Batch, type NewReservedTask } from '@reelay/db';
import { fileKeys } from '@reelay/storage';
import type { WorkerContext } from '../context';

/** Errors kept on a failed batch: enough to fix a file, bounded so one broken file is not 50,000 entries. */
const MAX_REPORTED_ERRORS = 1000;
/** Longest stretch of line parsing between two turns of the worker's event loop. */
const VALIDATION_SLICE_MS = 1;

export type ValidationResult = { ok: true; tasks: NewReservedTask[] } | { ok: false; errors: BatchLineError[] };

/**
 * Reads the whole input file, one line at a time from storage (never all of it in memory as
 * text), and checks every line; any error fails the batch, so nothing is created unless every
 * line is good. The tasks are built here, ready for one bulk insert.
 */
export async function validateBatchFile(ctx: WorkerContext, batch: Batch): Promise<ValidationResult> {
  const fail = (code: string, message: string, param: string | null = null): ValidationResult => ({
    ok: false,
    errors: [{ code, message, param, line: null }],
  });
  const file = await findFileForOwner(ctx.db, batch.inputFileId, batch.apiKeyId);
  if (!file) return fail('invalid_file', `Input file ${batch.inputFileId} no longer exists`, 'input_file_id');
  const key = await findApiKeyById(ctx.db, batch.apiKeyId);
  if (!key) return fail('invalid_api_key', 'The API key of this batch no longer exists');
  const limits = {
    maxPromptChars: ctx.config.REELAY_MAX_PROMPT_CHARS,
    maxImageBytes: ctx.config.REELAY_MAX_IMAGE_BYTES,
    maxImagePixels: ctx.config.REELAY_MAX_IMAGE_PIXELS,
  };
  const maxLines = ctx.config.REELAY_BATCH_MAX_LINES;
  const errors: BatchLineError[] = [];
  const tasks: NewReservedTask[] = [];
  const seen = new Set<string>();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + ctx.config.REELAY_RESULT_TTL_SECONDS * 1000);
  const lines = createInterface({ input: ctx.storage.read(fileKeys.content(file.id)), crlfDelay: Infinity });
  let lineNo = 0;
  let requests = 0;
  // ~1 s of parsing for 50,000 lines: in short slices, so the worker's admissions and submits run between them.
  const slice = timeSlicer(VALIDATION_SLICE_MS);
  for await (const text of lines) {
    await slice();
    lineNo++;
    if (text.trim() === '') continue;
    if (++requests > maxLines) {
      lines.close();
      return fail('too_many_requests', `The input file has more than ${maxLines} requests, the limit per batch`, 'input_file_id');
    }
    const parsed = parseBatchLine(text, lineNo, ctx.catalog, limits, key.allowedModels);
    if (!parsed.ok) {
      if (errors.length < MAX_REPORTED_ERRORS) errors.push(parsed.error);
      continue;
    }
    if (seen.has(parsed.customId)) {
      if (errors.length < MAX_REPORTED_ERRORS) {
        errors.push({
          code: 'duplicate_custom_id',
          message: `Line ${lineNo}: custom_id ${JSON.stringify(parsed.customId)} is used by an earlier line`,
          param: 'custom_id',
          line: lineNo,
        });
      }
      continue;
    }
    seen.add(parsed.customId);
    if (errors.length > 0) continue; // the batch fails anyway: only keep checking
    const input = parsed.input;
    const price = pricePerSecondMicros(input.model, input.width, input.height);
    // Every task sets the same columns (one multi-row insert), so optional ones are null, not absent.
    tasks.push({
      id: newVideoId(),
      apiKeyId: batch.apiKeyId,
      ...requestedTaskFields(input),
      provider: input.model.targets[0]!.provider,
      imageRef: null,
      createdAt: now,
      updatedAt: now,
      expiresAt,
      queuePrefix: batch.queuePrefix,
      requestId: batch.requestId,
      batchId: batch.id,
      customId: parsed.customId,
      batchLine: lineNo,
      priceMicrosPerSecond: price,
      reservedMicros: estimateCostMicros(price, input.durationSeconds, input.n),
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  if (requests === 0) return fail('empty_file', 'The input file has no requests', 'input_file_id');
  return { ok: true, tasks };
}

import type { Request } from 'express';
import { BATCH_ENDPOINT, createBatchBodySchema, invalidParameter, newBatchId, parseBody, serviceUnavailable } from '@reelay/core';
import { countBatchTasks, discardBatch, findBatchByIdempotencyKey, findFileForOwner, insertBatch, isBatchFinal, type Batch } from '@reelay/db';
import { enqueueBatch } from '@reelay/queue';
import type { ApiDeps } from '../deps';
import { idempotencyClaim, idempotencyConflict } from './idempotency';
import { publicBaseUrl } from './present-video';

const MAX_METADATA_PAIRS = 16;

/**
 * POST /v1/batches: checks the request (only endpoint /v1/videos, window 24h, the key's own
 * input file of purpose batch), records the batch in `validating` and queues its job, which reads
 * the file. With an Idempotency-Key a retry answers with the batch made first.
 */
export async function createBatch(deps: ApiDeps, req: Request, body: unknown): Promise<{ batch: Batch; replayed: boolean }> {
  const input = parseBody(createBatchBodySchema, body);
  if (input.endpoint !== BATCH_ENDPOINT) throw invalidParameter('endpoint', `must be ${BATCH_ENDPOINT}, the only batch endpoint of this server`);
  if (input.completion_window !== '24h') throw invalidParameter('completion_window', 'must be 24h');
  if (input.metadata && Object.keys(input.metadata).length > MAX_METADATA_PAIRS)
    throw invalidParameter('metadata', `must have at most ${MAX_METADATA_PAIRS} keys`);
  const claim = idempotencyClaim(req, { body, upload: null });
  const earlier = async (): Promise<Batch | null> => {
    if (!claim) return null;
    const batch = await findBatchByIdempotencyKey(deps.db, req.apiKey.id, claim.key);
    if (batch && batch.requestHash !== claim.requestHash) throw idempotencyConflict();
    return batch;
  };
  const before = await earlier();
  if (before) return { batch: before, replayed: true };

  const file = await findFileForOwner(deps.db, input.input_file_id, req.apiKey.id);
  if (!file) throw invalidParameter('input_file_id', 'must be the id of one of your files');
  if (file.purpose !== 'batch') throw invalidParameter('input_file_id', `must be a file of purpose batch (this one is ${file.purpose})`);

  const now = new Date();
  let batch: Batch;
  try {
    batch = await insertBatch(deps.db, {
      id: newBatchId(),
      apiKeyId: req.apiKey.id,
      endpoint: input.endpoint,
      completionWindow: input.completion_window,
      inputFileId: file.id,
      baseUrl: publicBaseUrl(deps, req),
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.config.REELAY_BATCH_WINDOW_SECONDS * 1000),
      queuePrefix: deps.config.REELAY_QUEUE_PREFIX,
      metadata: input.metadata ?? null,
      idempotencyKey: claim?.key ?? null,
      requestHash: claim?.requestHash ?? null,
      requestId: String(req.id),
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') {
      const winner = await earlier();
      if (winner) return { batch: winner, replayed: true };
    }
    throw err;
  }
  try {
    await enqueueBatch(deps.batchesQueue, { batchId: batch.id, requestId: String(req.id) });
  } catch {
    await discardBatch(deps.db, batch.id).catch(() => undefined);
    throw serviceUnavailable('The task queue is unavailable; the batch was not created, try again');
  }
  return { batch, replayed: false };
}

const unix = (d: Date | null): number | null => (d ? Math.floor(d.getTime() / 1000) : null);

/** OpenAI's batch object; request_counts are read from the batch's tasks while it runs. */
export async function presentBatch(deps: ApiDeps, b: Batch): Promise<Record<string, unknown>> {
  let counts = { total: b.requestTotal, completed: b.requestCompleted, failed: b.requestFailed };
  if (!isBatchFinal(b.status) && b.status !== 'validating') {
    const live = await countBatchTasks(deps.db, b.id);
    counts = { total: live.total, completed: live.completed, failed: live.failed };
  }
  return {
    id: b.id,
    object: 'batch',
    endpoint: b.endpoint,
    errors: b.errors ?? null,
    input_file_id: b.inputFileId,
    completion_window: b.completionWindow,
    status: b.status,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    created_at: unix(b.createdAt),
    in_progress_at: unix(b.inProgressAt),
    expires_at: unix(b.expiresAt),
    finalizing_at: unix(b.finalizingAt),
    completed_at: unix(b.completedAt),
    failed_at: unix(b.failedAt),
    expired_at: unix(b.expiredAt),
    cancelling_at: unix(b.cancellingAt),
    cancelled_at: unix(b.cancelledAt),
    request_counts: counts,
    metadata: b.metadata ?? null,
  };
}

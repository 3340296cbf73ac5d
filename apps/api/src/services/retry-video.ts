import { ApiError, notFound } from '@reelay/core';
import { findApiKeyById, findUndeletedTask, type VideoRow } from '@reelay/db';
import type { ApiDeps } from '../deps';
import { copyTask } from './copy-task';

/**
 * An operator's re-run of a failed task: a new task of the same key with every parameter copied
 * and `retried_from_id` naming the failed one, created (and charged) like any create of that key,
 * so the key's budget, limits and allowed models still apply.
 */
export async function retryVideo(deps: ApiDeps, sourceId: string, requestId: string): Promise<VideoRow> {
  const source = await findUndeletedTask(deps.db, sourceId);
  if (!source) throw notFound();
  if (source.status !== 'failed') {
    throw new ApiError(409, 'unsupported_operation', `Video ${source.id} is ${source.status}; only a failed video can be retried`);
  }
  const key = await findApiKeyById(deps.db, source.apiKeyId);
  if (!key || key.status !== 'active') throw new ApiError(409, 'unsupported_operation', `The key of video ${source.id} is no longer active`);
  return copyTask(deps, key, source, { retriedFromId: source.id }, requestId);
}

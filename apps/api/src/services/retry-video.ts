import { ApiError, newVideoId, notFound } from '@reelay/core';
import { findApiKeyById, findUndeletedTask, type VideoRow } from '@reelay/db';
import { taskKeys } from '@reelay/storage';
import type { ApiDeps } from '../deps';
import { insertAndEnqueueTask } from './create-video';

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
  const model = deps.catalog.get(source.model);
  if (!model) throw new ApiError(409, 'unsupported_operation', `Model ${source.model} is no longer configured`);
  const id = newVideoId();
  let imageRef: string | null = null;
  if (source.imageRef) {
    imageRef = taskKeys.inputImage(id, source.imageRef.split('.').pop()!);
    await deps.storage.put(imageRef, deps.storage.read(source.imageRef));
  }
  const now = new Date();
  return insertAndEnqueueTask(
    deps,
    key,
    {
      id,
      apiKeyId: key.id,
      model: source.model,
      provider: model.targets[0]!.provider,
      prompt: source.prompt,
      imageRef,
      durationSeconds: source.durationSeconds,
      width: source.width,
      height: source.height,
      fps: source.fps,
      seed: source.seed,
      n: source.n,
      responseFormat: source.responseFormat,
      user: source.user,
      metadata: (source.metadata ?? {}) as object,
      callbackUrl: source.callbackUrl,
      remixedFromId: source.remixedFromId,
      retriedFromId: source.id,
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.config.REELAY_RESULT_TTL_SECONDS * 1000),
    },
    requestId,
  );
}

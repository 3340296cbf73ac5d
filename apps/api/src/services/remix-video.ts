import { ApiError, checkPrompt, notFound } from '@reelay/core';
import { findTaskForOwner, type ApiKey, type VideoRow } from '@reelay/db';
import type { ApiDeps } from '../deps';
import { copyTask } from './copy-task';

/**
 * A new task from a completed one of the same key: every parameter copied, the prompt replaced,
 * `remixed_from_video_id` set. The source's input image is copied, so deleting the source later
 * does not break the remix.
 */
export async function remixVideo(deps: ApiDeps, key: ApiKey, sourceId: string, prompt: string, requestId: string): Promise<VideoRow> {
  const source = await findTaskForOwner(deps.db, sourceId, key.id);
  if (!source) throw notFound();
  const model = deps.catalog.get(source.model);
  if (!model || !model.supportsRemix) {
    throw new ApiError(400, 'unsupported_operation', `Model ${source.model} does not support remix`, 'video_id');
  }
  if (source.status !== 'completed') {
    throw new ApiError(409, 'video_not_ready', `Video ${source.id} is ${source.status}; only a completed video can be remixed`);
  }
  checkPrompt(prompt, { maxPromptChars: deps.config.REELAY_MAX_PROMPT_CHARS, maxImageBytes: deps.config.REELAY_MAX_IMAGE_BYTES });

  return copyTask(deps, key, source, { prompt, remixedFromId: source.id }, requestId);
}

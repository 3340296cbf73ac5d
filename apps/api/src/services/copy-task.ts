import { newVideoId } from '@reelay/core';
import type { ApiKey, Task, VideoRow } from '@reelay/db';
import { taskKeys } from '@reelay/storage';
import type { ApiDeps } from '../deps';
import { insertAndEnqueueTask, type TaskDraft } from './create-video';

/**
 * A new task of `key` with every parameter of `source`, `changes` on top (a remix's prompt, a
 * retry's link back). The source's input image is copied, so deleting the source later does not
 * break the copy. Created and charged like any create of that key.
 */
export async function copyTask(deps: ApiDeps, key: ApiKey, source: Task, changes: Partial<TaskDraft>, requestId: string): Promise<VideoRow> {
  const id = newVideoId();
  let imageRef: string | null = null;
  if (source.imageRef) {
    imageRef = taskKeys.inputImage(id, source.imageRef.split('.').pop()!);
    await deps.storage.put(imageRef, deps.storage.read(source.imageRef));
  }
  const draft: TaskDraft = {
    id,
    model: source.model,
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
  };
  return insertAndEnqueueTask(deps, key, { ...draft, ...changes }, requestId);
}

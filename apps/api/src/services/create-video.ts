import { ApiError, estimateCostMicros, newVideoId, pricePerSecondMicros, sniffImage, type CreateVideoInput } from '@reelay/core';
import { createTaskWithReservation, discardUnstartedTask, type ApiKey, type Task } from '@reelay/db';
import { Readable } from 'node:stream';
import type { ApiDeps } from '../deps';
import { announceCreatedTask } from './admission';
import { fetchImageUrl } from './fetch-image';

/**
 * Validated request → stored input image → one task row with its cost reserved. The task waits in
 * `pending` until the worker's admission step gives it a slot and queues its job; the API only
 * announces it. A refused create (queue full, budget, Redis unreachable) leaves nothing behind.
 */
export async function createVideo(deps: ApiDeps, key: ApiKey, input: CreateVideoInput, _requestId: string): Promise<Task> {
  if (key.allowedModels.length > 0 && !key.allowedModels.includes(input.model.id)) {
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: model ${input.model.id} is not allowed for this API key (allowed: ${key.allowedModels.join(', ')})`, 'model');
  }
  const priceMicrosPerSecond = pricePerSecondMicros(input.model, input.width, input.height);
  const reservedMicros = estimateCostMicros(priceMicrosPerSecond, input.durationSeconds, input.n);
  const id = newVideoId();
  let imageRef: string | null = null;
  if (input.image) {
    const image = input.image.kind === 'bytes' ? input.image.image : await fetchImageUrl(deps, input.image.url);
    const ext = image.mime.split('/')[1]!;
    imageRef = `inputs/${id}/image.${ext}`;
    if (!sniffImage(image.data)) throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: image must be a PNG, JPEG or WebP image', 'image');
    await deps.storage.put(imageRef, Readable.from([image.data]));
  }
  const now = new Date();
  let task: Task;
  try {
    task = await createTaskWithReservation(deps.db, {
      id,
      apiKeyId: key.id,
      model: input.model.id,
      provider: input.model.targets[0]!.provider,
      prompt: input.prompt,
      imageRef,
      durationSeconds: input.durationSeconds,
      width: input.width,
      height: input.height,
      fps: input.fps,
      seed: BigInt(input.seed),
      n: input.n,
      responseFormat: input.responseFormat,
      user: input.user,
      metadata: input.metadata as object,
      callbackUrl: input.callbackUrl,
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.config.REELAY_RESULT_TTL_SECONDS * 1000),
      queuePrefix: deps.config.REELAY_QUEUE_PREFIX,
      priceMicrosPerSecond,
      reservedMicros,
    });
  } catch (err) {
    if (imageRef) await deps.storage.remove(`inputs/${id}`);
    throw err;
  }
  try {
    await announceCreatedTask(deps);
  } catch {
    await discardUnstartedTask(deps.db, id).catch(() => undefined);
    if (imageRef) await deps.storage.remove(`inputs/${id}`);
    throw new ApiError(503, 'service_unavailable', 'The task queue is unavailable; nothing was created, try again');
  }
  return task;
}

import { ApiError, newVideoId, sniffImage, type CreateVideoInput } from '@reelay/core';
import { insertTask, type ApiKey, type NewTask, type Task } from '@reelay/db';
import { tasksCreated } from '@reelay/observability';
import { enqueueTask, withTimeout } from '@reelay/queue';
import { Readable } from 'node:stream';
import type { ApiDeps } from '../deps';
import { fetchImageUrl } from './fetch-image';
import type { IdempotencyClaim } from './idempotency';

const ENQUEUE_TIMEOUT_MS = 2000;

/**
 * Validated request → stored input image → one task row → one queued job. If the job cannot be
 * queued, the row and the image are removed again, so a failed create leaves nothing behind.
 */
export async function createVideo(
  deps: ApiDeps,
  key: ApiKey,
  input: CreateVideoInput,
  requestId: string,
  idempotency: IdempotencyClaim | null = null,
): Promise<Task> {
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
  return insertAndEnqueueTask(deps, {
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
    idempotencyKey: idempotency?.key ?? null,
    requestHash: idempotency?.requestHash ?? null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.config.REELAY_RESULT_TTL_SECONDS * 1000),
  }, requestId);
}

/**
 * Inserts the task row (one INSERT … RETURNING on the hot path) and queues its job. If the job
 * cannot be queued, the row and its stored input image are removed again and the client gets a 503.
 */
export async function insertAndEnqueueTask(deps: ApiDeps, data: NewTask, requestId: string): Promise<Task> {
  const id = data.id;
  let task: Task;
  try {
    task = await insertTask(deps.db, { updatedAt: data.createdAt, queuePrefix: deps.config.REELAY_QUEUE_PREFIX, ...data });
  } catch (err) {
    if (data.imageRef) await deps.storage.remove(`inputs/${id}`);
    throw err;
  }
  try {
    // Bounded: with Redis down the client gets a 503 in about two seconds, not a hang.
    await withTimeout(enqueueTask(deps.tasksQueue, { taskId: id, requestId }), ENQUEUE_TIMEOUT_MS, 'enqueue');
  } catch (err) {
    deps.logger.warn({ err, taskId: id, requestId }, 'enqueue failed; task removed');
    await deps.db.task.delete({ where: { id } }).catch(() => undefined);
    if (data.imageRef) await deps.storage.remove(`inputs/${id}`);
    throw new ApiError(503, 'service_unavailable', 'The task queue is unavailable; nothing was created, try again');
  }
  tasksCreated.inc({ model: task.model, provider: task.provider });
  return task;
}

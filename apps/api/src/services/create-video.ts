import {
  ApiError,
  checkImageBytes,
  estimateCostMicros,
  invalidParameter,
  newId,
  newVideoId,
  pricePerSecondMicros,
  requestedTaskFields,
  serviceUnavailable,
  type CreateVideoInput,
  type ImageBytes,
} from '@reelay/core';
import { decodeImage, modelSupports } from '@reelay/providers';
import {
  createTask,
  discardUnstartedTask,
  findCharactersForOwner,
  findFileForOwner,
  type ApiKey,
  type CreateRefusal,
  type NewTask,
  type VideoRow,
} from '@reelay/db';
import { taskKeys } from '@reelay/storage';
import { tasksCreated } from '@reelay/observability';
import { Readable } from 'node:stream';
import type { ApiDeps } from '../deps';
import { announceCreatedTask } from './admission';
import { fetchImageUrl } from './fetch-image';
import type { IdempotencyClaim } from './idempotency';

/** Seconds a client is told to wait when its key's queue is full. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 5;

/** The HTTP answer to a create the database refused. */
function refusalError(refused: CreateRefusal): ApiError {
  switch (refused.reason) {
    case 'inactive_key':
      return new ApiError(401, 'invalid_api_key', 'Invalid API key');
    case 'queue_full':
      return new ApiError(
        429,
        'concurrency_limit_exceeded',
        `This API key already has ${refused.queued} queued tasks, its limit (max queued ${refused.maxQueued}); retry when some have started`,
        null,
        { 'retry-after': String(QUEUE_FULL_RETRY_AFTER_SECONDS) },
      );
    case 'over_budget':
      return new ApiError(
        429,
        'insufficient_quota',
        `This request is estimated at ${refused.reservedMicros} micro-units but the API key has ${refused.leftMicros} of its budget left`,
      );
  }
}

/** A key limited to some models gets a 400 on `model` for any other. */
function assertModelAllowed(key: ApiKey, model: string): void {
  if (key.allowedModels.length > 0 && !key.allowedModels.includes(model)) {
    throw new ApiError(
      400,
      'invalid_parameter',
      `Invalid parameter: model ${model} is not allowed for this API key (allowed: ${key.allowedModels.join(', ')})`,
      'model',
    );
  }
}

/** The image file a key uploaded earlier (input_reference.file_id, purpose vision or user_data), checked like an upload. */
async function storedImageFile(deps: ApiDeps, key: ApiKey, fileId: string, param: string): Promise<ImageBytes> {
  const file = await findFileForOwner(deps.db, fileId, key.id);
  if (!file || !IMAGE_FILE_PURPOSES.has(file.purpose)) throw invalidParameter(param, 'names no image file of this API key (purpose vision or user_data)');
  if (Number(file.bytes) > deps.config.REELAY_MAX_IMAGE_BYTES)
    throw invalidParameter(param, `must name a file of at most ${deps.config.REELAY_MAX_IMAGE_BYTES} bytes`);
  const chunks: Buffer[] = [];
  for await (const chunk of deps.storage.read(file.storageKey)) chunks.push(chunk as Buffer);
  return checkImageBytes(Buffer.concat(chunks), param, deps.config.REELAY_MAX_IMAGE_PIXELS);
}

const IMAGE_FILE_PURPOSES = new Set(['vision', 'user_data']);

/**
 * Characters a create names must be the key's own (another key's is as unknown as one never made)
 * and the model's providers must take them: decided before anything is stored.
 */
async function assertCharactersUsable(deps: ApiDeps, key: ApiKey, input: CreateVideoInput): Promise<void> {
  if (input.characterIds.length === 0) return;
  const found = new Set((await findCharactersForOwner(deps.db, input.characterIds, key.id)).map((c) => c.id));
  const missing = input.characterIds.filter((id) => !found.has(id));
  if (missing.length)
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: characters names no character of this API key: ${missing.join(', ')}`, 'characters');
  if (!modelSupports(input.model, 'characters')) {
    throw new ApiError(400, 'unsupported_operation', `Model ${input.model.id} does not support characters`, 'characters');
  }
}

/**
 * The header of an input image was read at validation; here its data is decoded, before anything
 * is stored: right magic bytes over broken data is a 400 on its field, not a task that fails
 * later in a renderer or upstream. ffmpeg's own words go to the log only.
 */
async function assertImageDecodes(deps: ApiDeps, image: ImageBytes, param: string): Promise<void> {
  const result = await decodeImage(
    { ffmpegPath: deps.config.FFMPEG_PATH, ffprobePath: deps.config.FFPROBE_PATH },
    image.data,
    image.mime,
    deps.config.REELAY_IMAGE_CHECK_TIMEOUT_MS,
  );
  if (result.ok) return;
  if (result.reason === 'unavailable') {
    deps.logger.error({ detail: result.detail }, 'input image check: ffmpeg could not be run');
    throw serviceUnavailable('Image inputs cannot be checked right now; try again later', 30);
  }
  deps.logger.info({ param, mime: image.mime, reason: result.reason, detail: result.detail }, 'input image refused');
  const kind = image.mime.split('/')[1]!.toUpperCase();
  const why = result.reason === 'timeout' ? 'it could not be decoded in time' : 'its data is damaged or incomplete';
  throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${param} is not a valid ${kind} image: ${why}`, param);
}

/**
 * Validated request → stored input image → one task row with its cost reserved. The task waits in
 * `pending` until the worker's admission step gives it a slot and queues its job; the API only
 * announces it. A refused create (queue full, budget, Redis unreachable) leaves nothing behind.
 */
export async function createVideo(
  deps: ApiDeps,
  key: ApiKey,
  input: CreateVideoInput,
  requestId: string,
  idempotency: IdempotencyClaim | null = null,
): Promise<VideoRow> {
  assertModelAllowed(key, input.model.id);
  await assertCharactersUsable(deps, key, input);
  const id = newVideoId();
  let imageRef: string | null = null;
  if (input.image) {
    const { param } = input.image;
    const image =
      input.image.kind === 'bytes'
        ? input.image.image
        : input.image.kind === 'file'
          ? await storedImageFile(deps, key, input.image.fileId, param)
          : await fetchImageUrl(deps, input.image.url, param);
    await assertImageDecodes(deps, image, param);
    const ext = image.mime.split('/')[1]!;
    imageRef = taskKeys.inputImage(id, ext);
    await deps.storage.put(imageRef, Readable.from([image.data]), undefined, { contentType: image.mime });
  }
  return insertAndEnqueueTask(
    deps,
    key,
    {
      id,
      ...requestedTaskFields(input),
      imageRef,
      characterIds: input.characterIds,
      idempotencyKey: idempotency?.key ?? null,
      requestHash: idempotency?.requestHash ?? null,
    },
    requestId,
  );
}

/** A task to create for a key: the owner, the first target's provider and the timestamps are filled in. */
export type TaskDraft = Omit<NewTask, 'apiKeyId' | 'provider' | 'createdAt' | 'expiresAt'>;

/**
 * Inserts the task row with its estimated cost reserved against the key's budget (and its queue
 * limit checked; see createTask in packages/db), then tells the admission step. If the create is refused or
 * Redis cannot be told, the row, its reservation and its stored input image are removed again.
 */
export async function insertAndEnqueueTask(deps: ApiDeps, key: ApiKey, draft: TaskDraft, requestId: string): Promise<VideoRow> {
  const id = draft.id;
  let task: VideoRow;
  try {
    assertModelAllowed(key, draft.model);
    const model = deps.catalog.get(draft.model);
    if (!model) throw new ApiError(409, 'unsupported_operation', `Model ${draft.model} is no longer configured`);
    const createdAt = new Date();
    const data: NewTask = {
      ...draft,
      apiKeyId: key.id,
      provider: model.targets[0]!.provider,
      createdAt,
      expiresAt: new Date(createdAt.getTime() + deps.config.REELAY_RESULT_TTL_SECONDS * 1000),
    };
    const priceMicrosPerSecond = pricePerSecondMicros(model, data.width, data.height);
    // An extension is billed for the seconds it adds, not for the source it repeats.
    const billedSeconds = data.operation === 'extend' ? data.durationSeconds - (data.sourceSeconds ?? 0) : data.durationSeconds;
    const reservedMicros = estimateCostMicros(priceMicrosPerSecond, billedSeconds, data.n ?? 1);
    const outcome = await createTask(
      deps.db,
      { ...data, updatedAt: createdAt, queuePrefix: deps.config.REELAY_QUEUE_PREFIX, requestId, priceMicrosPerSecond, reservedMicros },
      newId('led'),
    );
    if (outcome.refused) throw refusalError(outcome.refused);
    task = outcome.task;
  } catch (err) {
    if (draft.imageRef || draft.sourceVideoRef) await deps.storage.remove(taskKeys.inputs(id));
    throw err;
  }
  try {
    await announceCreatedTask(deps);
  } catch (err) {
    deps.logger.warn({ err, taskId: id, requestId }, 'admission announce failed; task removed');
    await discardUnstartedTask(deps.db, id).catch(() => undefined);
    if (draft.imageRef || draft.sourceVideoRef) await deps.storage.remove(taskKeys.inputs(id));
    throw serviceUnavailable('The task queue is unavailable; nothing was created, try again');
  }
  tasksCreated.inc({ model: task.model, provider: task.provider });
  return task;
}

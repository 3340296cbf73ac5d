import { Readable } from 'node:stream';
import {
  ApiError,
  checkIn,
  checkPrompt,
  invalidParameter,
  isIssuedId,
  newVideoId,
  randomSeed,
  resolveModel,
  sizeProblem,
  type EditVideoBody,
  type ExtendVideoBody,
  type ModelSpec,
} from '@reelay/core';
import { findTaskForOwner, findTaskOutput, type ApiKey, type VideoRow } from '@reelay/db';
import { modelSupports } from '@reelay/providers';
import { taskKeys } from '@reelay/storage';
import type { ApiDeps } from '../deps';
import type { ParsedCreateBody } from '../middleware/body';
import { insertAndEnqueueTask } from './create-video';
import type { IdempotencyClaim } from './idempotency';
import { probeUploadedVideo } from './probe-upload';

export type SourceOperation = 'edit' | 'extend';

/** Where the source comes from, once checked: a stored output of the key's own video, or upload bytes. */
export type Source =
  | { kind: 'video'; id: string; model: string; storageKey: string; width: number; height: number; fps: number; durationSeconds: number }
  | { kind: 'upload'; data: Buffer; width: number; height: number; fps: number; durationSeconds: number };

const NOT_YOURS = 'must be the id of one of your completed videos';

/**
 * The source video a request names: `video` as an upload (probed) or as `{id}` of a completed video
 * of the same key (another key's id and an unknown one get the same 400).
 */
export async function resolveSource(deps: ApiDeps, key: ApiKey, video: { id: string } | null | undefined, upload: ParsedCreateBody['upload']): Promise<Source> {
  if (upload && upload.field !== 'video') throw new ApiError(400, 'invalid_parameter', `Unknown parameter: ${upload.field}`, upload.field);
  if (upload && video) throw invalidParameter('video', 'must be either an upload or {"id": ...}, not both');
  if (upload) {
    if (upload.buffer.length > deps.config.REELAY_MAX_VIDEO_UPLOAD_BYTES) {
      throw new ApiError(413, 'payload_too_large', `Uploaded file video exceeds the limit of ${deps.config.REELAY_MAX_VIDEO_UPLOAD_BYTES} bytes`, 'video');
    }
    const probed = await probeUploadedVideo(deps, upload.buffer, 'video');
    return { kind: 'upload', data: upload.buffer, ...probed };
  }
  if (!video) throw invalidParameter('video', 'is required: an MP4 upload or {"id": "vid_..."}');
  const id = video.id;
  // Another key's video and one never made get the same answer: nothing about other keys leaks.
  if (!isIssuedId('vid', id)) throw invalidParameter('video.id', NOT_YOURS);
  const source = await findTaskForOwner(deps.db, id, key.id);
  if (!source) throw invalidParameter('video.id', NOT_YOURS);
  if (source.status !== 'completed') {
    throw new ApiError(409, 'video_not_ready', `Video ${source.id} is ${source.status}; only a completed video can be used as a source`, 'video.id');
  }
  const output = source.expiresAt.getTime() > Date.now() && !source.filesDeletedAt ? await findTaskOutput(deps.db, source.id, 0, 'video') : null;
  if (!output) throw new ApiError(410, 'video_expired', `Video ${source.id} has expired; its content is no longer stored`, 'video.id');
  return {
    kind: 'video',
    id: source.id,
    model: source.model,
    storageKey: output.storageKey,
    width: source.width,
    height: source.height,
    fps: source.fps,
    durationSeconds: source.durationSeconds,
  };
}

const rangeOf = (r: ModelSpec['duration']): { min: number; max: number } => ('values' in r ? { min: Math.min(...r.values), max: Math.max(...r.values) } : r);

/** The output rate: the source's when the model allows it, else the model's default. */
function outputFps(model: ModelSpec, sourceFps: number): number {
  const fps = Math.round(sourceFps);
  const ok = 'values' in model.fps ? model.fps.values.includes(fps) : fps >= model.fps.min && fps <= model.fps.max;
  return ok ? fps : model.defaults.fps;
}

/**
 * POST /v1/videos/edits and /extensions: a new task that starts from a source video. The source
 * is checked (owned and completed, or an upload that probes as an MP4) and the model asked whether
 * it can do the operation before anything is stored; then the task gets its own copy of the
 * source, so deleting the source later does not break it. An edit keeps the source's duration and
 * size; an extension is the source followed by `seconds` more, billed for the new seconds only.
 */
export async function createFromSource(
  deps: ApiDeps,
  key: ApiKey,
  operation: SourceOperation,
  body: EditVideoBody | ExtendVideoBody,
  upload: ParsedCreateBody['upload'],
  requestId: string,
  idempotency: IdempotencyClaim | null,
): Promise<VideoRow> {
  checkPrompt(body.prompt, { maxPromptChars: deps.config.REELAY_MAX_PROMPT_CHARS, maxImageBytes: deps.config.REELAY_MAX_IMAGE_BYTES });
  if (body.model !== undefined && body.model !== null) resolveModel(deps.catalog, body.model); // a bad name is a 400 before any probe
  const source = await resolveSource(deps, key, body.video, upload);
  const model = resolveModel(deps.catalog, body.model ?? (source.kind === 'video' ? source.model : null));
  if (!modelSupports(model, operation)) {
    throw new ApiError(400, 'unsupported_operation', `Model ${model.id} does not support ${operation === 'edit' ? 'edits' : 'extensions'}`, 'model');
  }
  const param = source.kind === 'video' ? 'video.id' : 'video';
  const sizeIssue = sizeProblem(model, source.width, source.height);
  if (sizeIssue)
    throw invalidParameter(param, `is ${source.width}x${source.height}; model ${model.id} ${sizeIssue.replace(/^must/, 'needs a video that must')}`);
  const fps = outputFps(model, source.fps);
  // Whole frames at the output rate, so the stored length is what the render produces.
  const sourceSeconds = Math.max(1, Math.round(source.durationSeconds * fps)) / fps;
  const limits = rangeOf(model.duration);
  let durationSeconds = sourceSeconds;
  if (operation === 'extend') {
    const added = (body as ExtendVideoBody).seconds;
    checkIn('seconds', added, model.duration, 'seconds');
    durationSeconds = sourceSeconds + added;
  } else if (sourceSeconds < limits.min || sourceSeconds > limits.max) {
    throw invalidParameter(param, `is ${sourceSeconds.toFixed(2)} s long; model ${model.id} edits videos of ${limits.min} to ${limits.max} s`);
  }

  const id = newVideoId();
  const sourceVideoRef = taskKeys.sourceVideo(id);
  await deps.storage.put(sourceVideoRef, source.kind === 'video' ? deps.storage.read(source.storageKey) : Readable.from([source.data]));
  return insertAndEnqueueTask(
    deps,
    key,
    {
      id,
      model: model.id,
      prompt: body.prompt,
      operation,
      sourceVideoId: source.kind === 'video' ? source.id : null,
      sourceVideoRef,
      sourceSeconds,
      durationSeconds,
      width: source.width,
      height: source.height,
      fps,
      seed: BigInt(randomSeed()),
      n: 1,
      responseFormat: body.response_format ?? 'url',
      user: body.user ?? null,
      metadata: {},
      idempotencyKey: idempotency?.key ?? null,
      requestHash: idempotency?.requestHash ?? null,
    },
    requestId,
  );
}

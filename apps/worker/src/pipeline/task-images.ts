import { outputsOf, recordOutputsOfCompletedTask, deleteTaskOutputs, type OutputRecord, type Task } from '@reelay/db';
import { removeTaskFiles, taskKeys } from '@reelay/storage';
import { makeSpritesheet, makeThumbnail, probeVideo, type PollOutput, type Provider } from '@reelay/providers';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerContext } from '../context';

const IMAGE_VARIANTS = ['thumbnail', 'spritesheet'] as const;

/** One output to take images from: what the upstream said of it, and its video as a local file (null when it could not be stored). */
export interface ImageSource {
  output: Pick<PollOutput, 'index' | 'durationSeconds' | 'thumbnail' | 'spritesheet'>;
  localVideo: Promise<string | null>;
}

/**
 * Stores one output's thumbnail and spritesheet: the upstream's own images when it serves them
 * (fetched at once, beside the video), else made from the local video with ffmpeg once it is
 * there. Resolves to what was stored, never rejects: an image that cannot be made is logged and
 * left out (the video stays served). Recording them is recordTaskImages', after the completion.
 */
export async function storeOutputImages(
  ctx: WorkerContext,
  task: Task,
  { output: out, localVideo }: ImageSource,
  scratchDir: () => Promise<string>,
  provider?: Provider,
): Promise<OutputRecord[]> {
  // Frames are picked from the video as delivered: an upstream may return a shorter clip than
  // asked for. A provider that made the file itself knows its length, which saves ffprobe.
  let span: Promise<number> | undefined;
  const frameSpan = (video: string): Promise<number> =>
    (span ??=
      out.durationSeconds !== undefined
        ? Promise.resolve(Math.min(out.durationSeconds, task.durationSeconds))
        : probeVideo(ctx.media, video).then(
            (p) => (Number.isFinite(p.durationSeconds) && p.durationSeconds > 0 ? Math.min(p.durationSeconds, task.durationSeconds) : task.durationSeconds),
            () => task.durationSeconds,
          ));
  // The two images side by side: the job holds one of the worker's WORKER_CONCURRENCY slots
  // until they are stored, and due polls wait for free slots (bench/inflight).
  const made = await Promise.all(
    IMAGE_VARIANTS.map((variant) =>
      storeImage(ctx, task, out, variant, localVideo, async () => join(await scratchDir(), `${out.index}-${variant}.jpg`), frameSpan, provider),
    ),
  );
  return made.filter((image): image is OutputRecord => image !== null);
}

/** Records a completed task's stored images; a task deleted (or expired) meanwhile must not keep them. */
export async function recordTaskImages(ctx: WorkerContext, taskId: string, images: OutputRecord[]): Promise<void> {
  if (!(await recordOutputsOfCompletedTask(ctx.db, taskId, images))) await dropTaskFiles(ctx, taskId);
}

/** Removes a task's stored files and forgets its outputs: what a task that lost its completion must not keep. */
export async function dropTaskFiles(ctx: WorkerContext, taskId: string): Promise<void> {
  await removeTaskFiles(ctx.storage, taskId);
  await deleteTaskOutputs(ctx.db, taskId);
}

/**
 * Makes the images a completed task still lacks, from its stored videos: the task's job runs again
 * when its worker died between announcing the task and storing the images.
 */
export async function completeTaskImages(ctx: WorkerContext, task: Task): Promise<void> {
  if (task.status !== 'completed' || task.deletedAt) return;
  const outputs = await outputsOf(ctx.db, task.id);
  const lacking = outputs.filter((o) => o.variant === 'video' && IMAGE_VARIANTS.some((v) => !outputs.some((i) => i.index === o.index && i.variant === v)));
  if (lacking.length === 0) return;
  const scratch = await ctx.storage.scratchDir('images');
  try {
    for (const video of lacking) {
      const images = await ctx.storage.withLocalFile(video.storageKey, (localVideo) =>
        storeOutputImages(ctx, task, { output: { index: video.index }, localVideo: Promise.resolve(localVideo) }, async () => scratch),
      );
      await recordTaskImages(ctx, task.id, images);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** One image of one output: the upstream's own when it serves it, else made with ffmpeg; null (logged) when neither works. */
async function storeImage(
  ctx: WorkerContext,
  task: Task,
  out: ImageSource['output'],
  variant: (typeof IMAGE_VARIANTS)[number],
  localVideo: Promise<string | null>,
  file: () => Promise<string>,
  frameSpan: (video: string) => Promise<number>,
  provider?: Provider,
): Promise<OutputRecord | null> {
  const key = taskKeys.output(task.id, out.index, variant);
  const recordOf = (image: { key: string; bytes: number; checksum: string }): OutputRecord => ({
    index: out.index,
    variant,
    storageKey: image.key,
    bytes: image.bytes,
    contentType: 'image/jpeg',
    checksum: image.checksum,
  });
  try {
    const upstreamRef = out[variant];
    if (provider && upstreamRef) {
      const image = await provider
        .fetchOutput(upstreamRef)
        .then((stream) => ctx.storage.put(key, stream, undefined, { contentType: 'image/jpeg' }))
        .catch(() => null);
      if (image) return recordOf(image);
    }
    // Without its video (its download failed, and the step will be tried again) there is nothing to make it from.
    const video = await localVideo;
    if (video === null) return null;
    const made = await file();
    if (variant === 'thumbnail') await makeThumbnail(ctx.media, video, made, await frameSpan(video));
    else await makeSpritesheet(ctx.media, video, made, await frameSpan(video));
    return recordOf(await ctx.storage.putFile(key, made, { contentType: 'image/jpeg' }));
  } catch (err) {
    ctx.logger.warn(
      { taskId: task.id, keyId: task.apiKeyId, model: task.model, errorCode: 'image_failed', variant, err: (err as Error).message },
      'image not made',
    );
    return null;
  }
}

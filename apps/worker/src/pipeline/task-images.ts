import { outputsOf, recordOutputsOfCompletedTask, deleteTaskOutputs, type OutputRecord, type Task } from '@reelay/db';
import { removeTaskFiles, taskKeys } from '@reelay/storage';
import { makeSpritesheet, makeThumbnail, probeVideo, type PollOutput, type Provider } from '@reelay/providers';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerContext } from '../context';

const IMAGE_VARIANTS = ['thumbnail', 'spritesheet'] as const;

/** One stored video to take images from: a local copy of it, and what the upstream said of it. */
export interface ImageSource {
  output: Pick<PollOutput, 'index' | 'durationSeconds' | 'thumbnail' | 'spritesheet'>;
  localVideo: string;
}

/**
 * Stores each video's thumbnail and spritesheet: the upstream's own images when it serves them,
 * else made from the video with ffmpeg. Runs after the task is announced as completed, so no
 * client waits for ffmpeg; the content route holds an image request for the moment this takes.
 * An image that cannot be made is logged and left out (the video stays served).
 */
export async function storeTaskImages(
  ctx: WorkerContext,
  task: Task,
  sources: ImageSource[],
  scratchDir: () => Promise<string>,
  provider?: Provider,
): Promise<void> {
  const stored: OutputRecord[] = [];
  for (const { output: out, localVideo } of sources) {
    // Frames are picked from the video as delivered: an upstream may return a shorter clip than
    // asked for. A provider that made the file itself knows its length, which saves ffprobe.
    let span: Promise<number> | undefined;
    const frameSpan = (): Promise<number> =>
      (span ??=
        out.durationSeconds !== undefined
          ? Promise.resolve(Math.min(out.durationSeconds, task.durationSeconds))
          : probeVideo(ctx.media, localVideo).then(
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
    for (const image of made) if (image) stored.push(image);
  }
  // A task deleted (or expired) while its images were made must not keep them.
  if (!(await recordOutputsOfCompletedTask(ctx.db, task.id, stored))) {
    await removeTaskFiles(ctx.storage, task.id);
    await deleteTaskOutputs(ctx.db, task.id);
  }
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
      await ctx.storage.withLocalFile(video.storageKey, (localVideo) =>
        storeTaskImages(ctx, task, [{ output: { index: video.index }, localVideo }], async () => scratch),
      );
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
  localVideo: string,
  file: () => Promise<string>,
  frameSpan: () => Promise<number>,
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
    const made = await file();
    if (variant === 'thumbnail') await makeThumbnail(ctx.media, localVideo, made, await frameSpan());
    else await makeSpritesheet(ctx.media, localVideo, made, await frameSpan());
    return recordOf(await ctx.storage.putFile(key, made, { contentType: 'image/jpeg' }));
  } catch (err) {
    ctx.logger.warn(
      { taskId: task.id, keyId: task.apiKeyId, model: task.model, errorCode: 'image_failed', variant, err: (err as Error).message },
      'image not made',
    );
    return null;
  }
}

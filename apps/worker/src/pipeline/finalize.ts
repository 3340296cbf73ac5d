import { deleteTaskOutputs, findTaskById, recordTaskOutputs, transitionTask, type OutputRecord, type Task } from '@reelay/db';
import { removeTaskFiles, taskKeys } from '@reelay/storage';
import { makeSpritesheet, makeThumbnail, probeVideo, type PollOutput, type Provider } from '@reelay/providers';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerContext } from '../context';
import { onTaskEnded } from './task-ended';

const MAX_VIDEO_BYTES = 4 * 1024 * 1024 * 1024;

/** What the upstream reported about the finished task, recorded with the completion. */
export interface UpstreamUsage {
  producedSeconds?: number;
  costUsd?: number;
}

/**
 * Copies every output into Reelay storage with a thumbnail and a spritesheet, records them, and
 * completes the task. Safe to run twice: keys and output rows are unique per (task, index, variant).
 */
export async function finalizeTask(ctx: WorkerContext, task: Task, provider: Provider, outputs: PollOutput[], usage: UpstreamUsage = {}): Promise<void> {
  const stored: OutputRecord[] = [];
  const record = (index: number, variant: OutputRecord['variant'], o: { key: string; bytes: number; checksum: string }, contentType: string) =>
    stored.push({ index, variant, storageKey: o.key, bytes: o.bytes, contentType, checksum: o.checksum });
  const scratch = await ctx.storage.scratchDir('finalize');
  try {
    for (const out of outputs) {
      const videoKey = taskKeys.output(task.id, out.index, 'video');
      // One pass over the download: into storage, and into a local file for ffprobe and ffmpeg.
      const local = join(scratch, `${out.index}-video.mp4`);
      const video = await ctx.storage.put(videoKey, await provider.fetchOutput(out.video), MAX_VIDEO_BYTES, { contentType: 'video/mp4', localCopy: local });
      record(out.index, 'video', video, 'video/mp4');
      // Frames are picked from the video as delivered: an upstream may return a shorter clip than
      // asked for. A provider that made the file itself knows its length, which saves ffprobe.
      const told = out.durationSeconds;
      let span: Promise<number> | undefined;
      const frameSpan = (): Promise<number> =>
        (span ??=
          told !== undefined
            ? Promise.resolve(Math.min(told, task.durationSeconds))
            : probeVideo(ctx.media, local).then(
                (p) => (Number.isFinite(p.durationSeconds) && p.durationSeconds > 0 ? Math.min(p.durationSeconds, task.durationSeconds) : task.durationSeconds),
                () => task.durationSeconds,
              ));
      // The two images side by side: each is its own ffmpeg process.
      const images = await Promise.all(
        (['thumbnail', 'spritesheet'] as const).map(async (variant) => {
          const upstreamRef = out[variant];
          if (upstreamRef) {
            // The upstream's own image when it serves one; ours from the video when it does not.
            const image = await provider
              .fetchOutput(upstreamRef)
              .then((stream) => ctx.storage.put(taskKeys.output(task.id, out.index, variant), stream, undefined, { contentType: 'image/jpeg' }))
              .catch(() => null);
            if (image) return { variant, image };
          }
          const file = join(scratch, `${out.index}-${variant}.jpg`);
          if (variant === 'thumbnail') await makeThumbnail(ctx.media, local, file, await frameSpan());
          else await makeSpritesheet(ctx.media, local, file, await frameSpan());
          return { variant, image: await ctx.storage.putFile(taskKeys.output(task.id, out.index, variant), file, { contentType: 'image/jpeg' }) };
        }),
      );
      for (const { variant, image } of images) record(out.index, variant, image, 'image/jpeg');
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  // Every output is recorded before the task shows as completed, so its content can be served at once.
  await recordTaskOutputs(ctx.db, task.id, stored);
  // Charged on what was produced (when the provider says), never more than was reserved.
  const completed = await transitionTask(
    ctx.db,
    task.id,
    'processing',
    'completed',
    { progress: 100, completedAt: new Date(), pollCount: { increment: 1 }, pollErrors: 0, upstreamCostUsd: usage.costUsd ?? null },
    { producedSeconds: usage.producedSeconds },
  );
  if (completed) await onTaskEnded(ctx, task.id);
  else {
    // Lost the transition. Another run of this same finalize (a job queued again after Redis lost
    // its data, or taken over from a stalled worker) may have completed it with these very files:
    // only a task that was cancelled or deleted meanwhile must not keep them.
    const now = await findTaskById(ctx.db, task.id);
    if (!now || now.status !== 'completed' || now.deletedAt) {
      await removeTaskFiles(ctx.storage, task.id);
      await deleteTaskOutputs(ctx.db, task.id);
    }
  }
  if (task.upstreamId) await provider.release?.(task.upstreamId).catch(() => undefined);
}

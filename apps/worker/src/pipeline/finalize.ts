import { completeTask, deleteTaskOutputs, findTaskById, recordTaskOutputs, type OutputRecord, type Task } from '@reelay/db';
import { removeTaskFiles, taskKeys } from '@reelay/storage';
import type { PollOutput, Provider } from '@reelay/providers';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerContext } from '../context';
import { onTaskEnded } from './task-ended';
import { storeTaskImages, type ImageSource } from './task-images';

const MAX_VIDEO_BYTES = 4 * 1024 * 1024 * 1024;

/** What the upstream reported about the finished task, recorded with the completion. */
export interface UpstreamUsage {
  producedSeconds?: number;
  costUsd?: number;
}

/**
 * Copies every output video into Reelay storage, records them and completes the task; then stores
 * each video's thumbnail and spritesheet (storeTaskImages), so the completion does not wait for
 * ffmpeg. Safe to run twice: keys and output rows are unique per (task, index, variant).
 */
export async function finalizeTask(ctx: WorkerContext, task: Task, provider: Provider, outputs: PollOutput[], usage: UpstreamUsage = {}): Promise<void> {
  const videos: OutputRecord[] = [];
  const sources: ImageSource[] = [];
  // Made only when a file needs one (a local copy of an object-store upload, an image ffmpeg makes).
  let scratch: Promise<string> | undefined;
  const scratchDir = (): Promise<string> => (scratch ??= ctx.storage.scratchDir('finalize'));
  try {
    for (const out of outputs) {
      // The images are made from a local file: the stored one on local disk; on an object store, a
      // copy written in the same pass over the download.
      const key = taskKeys.output(task.id, out.index, 'video');
      const stored = ctx.storage.localPathOf(key);
      const localCopy = stored ? undefined : join(await scratchDir(), `${out.index}-video.mp4`);
      const video = await ctx.storage.put(key, await provider.fetchOutput(out.video), MAX_VIDEO_BYTES, { contentType: 'video/mp4', localCopy });
      videos.push({ index: out.index, variant: 'video', storageKey: video.key, bytes: video.bytes, contentType: 'video/mp4', checksum: video.checksum });
      sources.push({ output: out, localVideo: (stored ?? localCopy)! });
    }
    // Every video is recorded before the task shows as completed, so its content can be served at once.
    await recordTaskOutputs(ctx.db, task.id, videos);
    // Charged on what was produced (when the provider says), never more than was reserved.
    const completed = await completeTask(ctx.db, task.id, { producedSeconds: usage.producedSeconds, upstreamCostUsd: usage.costUsd });
    if (completed) {
      await onTaskEnded(ctx, task.id, completed);
      await storeTaskImages(ctx, task, sources, scratchDir, provider);
    } else {
      // Lost the transition. Another run of this same finalize (a job queued again after Redis lost
      // its data, or taken over from a stalled worker) may have completed it with these very files:
      // only a task that was cancelled or deleted meanwhile must not keep them.
      const now = await findTaskById(ctx.db, task.id);
      if (!now || now.status !== 'completed' || now.deletedAt) {
        await removeTaskFiles(ctx.storage, task.id);
        await deleteTaskOutputs(ctx.db, task.id);
      }
    }
  } finally {
    if (scratch) await rm(await scratch, { recursive: true, force: true });
  }
  if (task.upstreamId) await provider.release?.(task.upstreamId).catch(() => undefined);
}

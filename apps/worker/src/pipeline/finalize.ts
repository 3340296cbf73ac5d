import { completeTask, findTaskById, recordTaskOutputs, type OutputRecord, type Task } from '@reelay/db';
import { taskKeys } from '@reelay/storage';
import type { PollOutput, Provider } from '@reelay/providers';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkerContext } from '../context';
import { onTaskEnded } from './task-ended';
import { dropTaskFiles, recordTaskImages, storeOutputImages } from './task-images';

const MAX_VIDEO_BYTES = 4 * 1024 * 1024 * 1024;

/** What the upstream reported about the finished task, recorded with the completion. */
export interface UpstreamUsage {
  producedSeconds?: number;
  costUsd?: number;
}

/**
 * Copies every output video into Reelay storage, records them and completes the task. Each
 * output's thumbnail and spritesheet are stored meanwhile (an upstream's own images beside the
 * download, ffmpeg's once the video is stored) and recorded after the completion, so the
 * completion waits for neither and the job holds its worker slot for the longer of the two, not
 * their sum. Safe to run twice: keys and output rows are unique per (task, index, variant).
 */
export async function finalizeTask(ctx: WorkerContext, task: Task, provider: Provider, outputs: PollOutput[], usage: UpstreamUsage = {}): Promise<void> {
  // Made only when a file needs one (a local copy of an object-store upload, an image ffmpeg makes).
  let scratch: Promise<string> | undefined;
  const scratchDir = (): Promise<string> => (scratch ??= ctx.storage.scratchDir('finalize'));
  const images: Promise<OutputRecord[]>[] = []; // never reject
  try {
    const videos: OutputRecord[] = [];
    for (const out of outputs) {
      // The images are made from a local file: the stored one on local disk; on an object store, a
      // copy written in the same pass over the download.
      const key = taskKeys.output(task.id, out.index, 'video');
      const stored = ctx.storage.localPathOf(key);
      const localCopy = stored ? undefined : join(await scratchDir(), `${out.index}-video.mp4`);
      const video = provider.fetchOutput(out.video).then((stream) => ctx.storage.put(key, stream, MAX_VIDEO_BYTES, { contentType: 'video/mp4', localCopy }));
      const localVideo = video.then(
        () => (stored ?? localCopy)!,
        () => null,
      );
      images.push(storeOutputImages(ctx, task, { output: out, localVideo }, scratchDir, provider));
      const v = await video;
      videos.push({ index: out.index, variant: 'video', storageKey: v.key, bytes: v.bytes, contentType: 'video/mp4', checksum: v.checksum });
    }
    // Every video is recorded before the task shows as completed, so its content can be served at once.
    await recordTaskOutputs(ctx.db, task.id, videos);
    // Charged on what was produced (when the provider says), never more than was reserved.
    const completed = await completeTask(ctx.db, task.id, { producedSeconds: usage.producedSeconds, upstreamCostUsd: usage.costUsd });
    if (completed) {
      await onTaskEnded(ctx, task.id, completed);
      await recordTaskImages(ctx, task.id, (await Promise.all(images)).flat());
    } else {
      await Promise.all(images);
      // Lost the transition. Another run of this same finalize (a job queued again after Redis lost
      // its data, or taken over from a stalled worker) may have completed it with these very files:
      // only a task that was cancelled or deleted meanwhile must not keep them.
      const now = await findTaskById(ctx.db, task.id);
      if (!now || now.status !== 'completed' || now.deletedAt) await dropTaskFiles(ctx, task.id);
    }
  } finally {
    await Promise.all(images); // their files are in the scratch folder
    if (scratch) await rm(await scratch, { recursive: true, force: true });
  }
  if (task.upstreamId) await provider.release?.(task.upstreamId).catch(() => undefined);
}

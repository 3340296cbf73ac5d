import { isLive } from '@reelay/core';
import { deleteTaskOutputs, findTaskById } from '@reelay/db';
import { removeTaskFiles } from '@reelay/storage';
import { gateOf, type WorkerContext } from '../context';
import { taskTargetKey } from './poll';

export class TaskStillLiveError extends Error {}

/**
 * Runs after a task was deleted: stops its upstream work (for the preview renderer, kills the
 * ffmpeg process), frees what the provider keeps, and removes any stored files once more in
 * case a step wrote some after the API removed them.
 */
export async function cancelUpstream(ctx: WorkerContext, taskId: string): Promise<void> {
  const task = await findTaskById(ctx.db, taskId);
  if (!task) return;
  // The API queues this job just before it records the cancel; retry until it has.
  if (isLive(task.status)) throw new TaskStillLiveError(`task ${taskId} is still ${task.status}`);
  if (task.upstreamId) {
    // The target that accepted the task, with the key it was accepted under.
    const key = taskTargetKey(task);
    const provider = ctx.providers.get(key);
    if (provider) {
      await provider.cancel(task.upstreamId);
      await provider.release?.(task.upstreamId);
    }
    await gateOf(ctx).releaseSlot(key, task.id);
  }
  if (task.deletedAt) {
    await removeTaskFiles(ctx.storage, task.id);
    await deleteTaskOutputs(ctx.db, task.id);
  }
}

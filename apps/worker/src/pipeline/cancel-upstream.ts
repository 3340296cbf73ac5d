import { gateOf, type WorkerContext } from '../context';
import { taskTargetKey } from './poll';

export class TaskStillLiveError extends Error {}

/**
 * Runs after a task was deleted: stops its upstream work (for the preview renderer, kills the
 * ffmpeg process), frees what the provider keeps, and removes any stored files once more in
 * case a step wrote some after the API removed them.
 */
export async function cancelUpstream(ctx: WorkerContext, taskId: string): Promise<void> {
  const task = await ctx.db.task.findUnique({ where: { id: taskId } });
  if (!task) return;
  // The API queues this job just before it records the cancel; retry until it has.
  if (task.status === 'pending' || task.status === 'processing') throw new TaskStillLiveError(`task ${taskId} is still ${task.status}`);
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
    await ctx.storage.remove(`videos/${task.id}`);
    await ctx.storage.remove(`inputs/${task.id}`);
    await ctx.db.taskOutput.deleteMany({ where: { taskId: task.id } });
  }
}

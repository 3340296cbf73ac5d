import { isLive, notFound, serviceUnavailable } from '@reelay/core';
import { deleteTaskOutputs, failLiveTask, findTaskForOwner, markTaskDeleted, type ApiKey } from '@reelay/db';
import { removeTaskFiles } from '@reelay/storage';
import { enqueueCancel } from '@reelay/queue';
import type { ApiDeps } from '../deps';

/**
 * Deletes a video for its owner: a live task is first failed as `cancelled` through the state
 * machine, then hidden (tasks.deleted_at) and its stored files removed. Stopping the upstream
 * (or preview render) is a worker's job, queued before anything changes so that a Redis outage
 * is a clean 503. A finalize racing with this loses its completion transition and removes the
 * files it wrote.
 */
export async function deleteVideo(deps: ApiDeps, key: ApiKey, id: string): Promise<void> {
  const task = await findTaskForOwner(deps.db, id, key.id);
  if (!task) throw notFound();
  if (isLive(task.status)) {
    try {
      await enqueueCancel(deps.cancelsQueue, { taskId: task.id });
    } catch {
      throw serviceUnavailable('The task queue is unavailable; the video was not deleted, try again');
    }
    await failLiveTask(deps.db, task.id, 'cancelled', 'Cancelled: the video was deleted', 'owner');
  }
  if (!(await markTaskDeleted(deps.db, task.id))) throw notFound();
  await deleteTaskOutputs(deps.db, task.id);
  // The video is deleted once the row says so; files a racing finalize is still writing are its to
  // remove (it lost the completion), so a failed removal here is logged, not the client's error.
  await removeTaskFiles(deps.storage, task.id).catch((err: Error) => {
    deps.logger.warn({ taskId: task.id, err: err.message }, "removing a deleted video's files failed");
  });
}

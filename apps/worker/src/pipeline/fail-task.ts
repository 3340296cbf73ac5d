import type { TaskErrorCode } from '@reelay/core';
import { failLiveTask } from '@reelay/db';
import type { WorkerContext } from '../context';
import { onTaskEnded } from './task-ended';

/** Fails a task from whichever live state it is in; a no-op on a task that already ended. */
export async function failTask(ctx: WorkerContext, taskId: string, code: TaskErrorCode, message: string): Promise<boolean> {
  const failed = await failLiveTask(ctx.db, taskId, code, message);
  // Only the call that won the transition counts the task and queues its webhooks.
  if (failed) await onTaskEnded(ctx, taskId);
  return failed;
}

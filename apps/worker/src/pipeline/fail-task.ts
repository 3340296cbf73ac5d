import { cleanTaskMessage, type TaskErrorCode } from '@reelay/core';
import { failLiveTask } from '@reelay/db';
import type { WorkerContext } from '../context';
import { onTaskEnded } from './task-ended';

/**
 * Fails a task from whichever live state it is in; a no-op on a task that already ended. `message`
 * is what the client reads; `detail` (an upstream's raw answer, a renderer's stderr, an exception)
 * goes to the log only.
 */
export async function failTask(ctx: WorkerContext, taskId: string, code: TaskErrorCode, message: string, detail?: string): Promise<boolean> {
  if (detail) ctx.logger.warn({ taskId, code, message, detail }, 'task failed');
  const ended = await failLiveTask(ctx.db, taskId, code, cleanTaskMessage(message));
  // Only the call that won the transition counts the task and queues its webhooks.
  if (ended) {
    ctx.job?.failed(`${code}: ${cleanTaskMessage(message)}`);
    await onTaskEnded(ctx, taskId, ended);
  }
  return ended !== null;
}

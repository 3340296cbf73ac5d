import { transitionTask } from '@reelay/db';
import type { WorkerContext } from '../context';
import { onTaskEnded } from './task-ended';

/** Fails a task from whichever live state it is in; a no-op on a task that already ended. */
export async function failTask(ctx: WorkerContext, taskId: string, code: string, message: string): Promise<boolean> {
  const data = { errorCode: code, errorMessage: message.slice(0, 2000), completedAt: new Date() };
  const failed =
    (await transitionTask(ctx.db, taskId, 'processing', 'failed', data)) || (await transitionTask(ctx.db, taskId, 'pending', 'failed', data));
  if (failed) await onTaskEnded(ctx, taskId);
  return failed;
}

import { transitionTask } from '@reelay/db';
import type { WorkerContext } from '../context';

/** Fails a task from whichever live state it is in; a no-op on a task that already ended. */
export async function failTask(ctx: WorkerContext, taskId: string, code: string, message: string): Promise<boolean> {
  const data = { errorCode: code, errorMessage: message.slice(0, 2000), completedAt: new Date() };
  if (await transitionTask(ctx.db, taskId, 'processing', 'failed', data)) return true;
  return transitionTask(ctx.db, taskId, 'pending', 'failed', data);
}

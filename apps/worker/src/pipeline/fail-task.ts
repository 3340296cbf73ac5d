import { failLiveTask } from '@reelay/db';
import type { WorkerContext } from '../context';

/** Fails a task from whichever live state it is in; a no-op on a task that already ended. */
export function failTask(ctx: WorkerContext, taskId: string, code: string, message: string): Promise<boolean> {
  return failLiveTask(ctx.db, taskId, code, message);
}

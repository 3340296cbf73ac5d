import { findExpiredResults, markResultsExpired } from '@reelay/db';
import { removeTaskFiles } from '@reelay/storage';
import type { WorkerContext } from '../context';

/**
 * Deletes the stored files of finished tasks whose expires_at has passed, `batch` tasks at a time,
 * and stamps files_deleted_at. The task rows stay, so GET /v1/videos/{id} keeps answering; content
 * answers 410. Live tasks are left alone until they finish, so a render that outlives its TTL
 * cannot write files after the sweep. Returns how many tasks were swept.
 */
export async function expireResults(ctx: WorkerContext, batch: number, now = new Date()): Promise<number> {
  let swept = 0;
  for (;;) {
    const due = await findExpiredResults(ctx.db, ctx.config.REELAY_QUEUE_PREFIX, now, batch);
    for (const id of due) {
      await removeTaskFiles(ctx.storage, id);
      await markResultsExpired(ctx.db, id);
    }
    swept += due.length;
    if (due.length < batch) return swept;
  }
}

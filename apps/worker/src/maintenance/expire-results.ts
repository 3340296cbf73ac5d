import type { WorkerContext } from '../context';

/**
 * Deletes the stored files of finished tasks whose expires_at has passed, `batch` tasks at a time
 * in expires_at order (the tasks_expires_at_idx index), and stamps files_deleted_at. The task rows
 * stay, so GET /v1/videos/{id} keeps answering; content answers 410. Live tasks are left alone
 * until they finish, so a render that outlives its TTL cannot write files after the sweep.
 * Returns how many tasks were swept.
 */
export async function expireResults(ctx: WorkerContext, batch: number, now = new Date()): Promise<number> {
  let swept = 0;
  for (;;) {
    const due = await ctx.db.task.findMany({
      where: { expiresAt: { lte: now }, filesDeletedAt: null, status: { in: ['completed', 'failed'] } },
      select: { id: true },
      orderBy: { expiresAt: 'asc' },
      take: batch,
    });
    for (const { id } of due) {
      await ctx.storage.remove(`videos/${id}`);
      await ctx.storage.remove(`inputs/${id}`);
      await ctx.db.$transaction([
        ctx.db.taskOutput.deleteMany({ where: { taskId: id } }),
        ctx.db.task.updateMany({ where: { id, filesDeletedAt: null }, data: { filesDeletedAt: new Date() } }),
      ]);
    }
    swept += due.length;
    if (due.length < batch) return swept;
  }
}

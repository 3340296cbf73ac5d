import { enqueueTask, type TaskJob } from '@reelay/queue';
import type { Queue } from 'bullmq';
import type { WorkerContext } from './context';

/**
 * Finds live tasks that have no job in Redis (Redis wiped, a job failed by the stall limit) and
 * queues them again. Tasks that are being polled touch updated_at on every poll, so only quiet
 * ones are checked.
 */
export async function reconcileTasks(ctx: WorkerContext, queue: Queue<TaskJob>, quietMs: number, batch = 500): Promise<number> {
  const quietSince = new Date(Date.now() - quietMs);
  const tasks = await ctx.db.task.findMany({
    // Pending tasks not yet admitted have no job on purpose: admission queues them.
    where: {
      status: { in: ['pending', 'processing'] },
      OR: [{ status: 'processing' }, { admittedAt: { not: null } }],
      queuePrefix: ctx.config.REELAY_QUEUE_PREFIX,
      updatedAt: { lt: quietSince },
    },
    select: { id: true, requestId: true },
    orderBy: { updatedAt: 'asc' },
    take: batch,
  });
  let requeued = 0;
  for (const { id, requestId } of tasks) {
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : 'missing';
    if (state === 'failed' || state === 'completed') await job!.remove();
    if (state === 'missing' || state === 'unknown' || state === 'failed' || state === 'completed') {
      await enqueueTask(queue, { taskId: id, requestId: requestId ?? undefined });
      requeued++;
    }
    // Touch it so the next sweep does not look at it again right away.
    await ctx.db.task.updateMany({ where: { id, status: { in: ['pending', 'processing'] } }, data: { updatedAt: new Date() } });
  }
  return requeued;
}

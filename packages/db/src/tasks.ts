import { assertTransition, isTerminal, type TaskStatus } from '@reelay/core';
import { closeBilling, MONEY_TX_OPTIONS } from './billing';
import type { Db } from './client';
import type { Prisma, Task, TaskOutput } from './generated/prisma/client';

export type { Task, TaskOutput };

export {
  findTaskById,
  findTaskEnd,
  findTaskForOwner,
  findVideoForOwner,
  insertTask,
  recordPoll,
  recordTaskOutputs,
  VIDEO_COLUMNS,
  type NewTask,
  type OutputRecord,
  type TaskEnd,
  type VideoRow,
} from './hot-path';

/**
 * Moves a task from one status to another, guarded by the current status, so that of two
 * workers racing on one task exactly one wins. Returns whether this call made the move.
 *
 * A move into a terminal status also closes the task's money in the same transaction (charge what
 * was produced on completion, release the reservation otherwise); its concurrency slot is freed by
 * the status itself (the admission step counts live tasks), so no terminal path can forget either.
 */
export async function transitionTask(
  db: Db,
  id: string,
  from: TaskStatus,
  to: TaskStatus,
  data: Prisma.TaskUpdateManyMutationInput = {},
  produced: { producedSeconds?: number | null } = {},
): Promise<boolean> {
  assertTransition(from, to);
  if (!isTerminal(to)) {
    const res = await db.task.updateMany({ where: { id, status: from }, data: { ...data, status: to } });
    return res.count === 1;
  }
  const producedSeconds = produced.producedSeconds ?? null;
  return db.$transaction(async (tx) => {
    const extra = to === 'completed' && producedSeconds !== null ? { producedSeconds } : {};
    const res = await tx.task.updateMany({ where: { id, status: from }, data: { ...data, ...extra, status: to } });
    if (res.count !== 1) return false;
    await closeBilling(tx, id, to === 'completed' ? { completed: true, producedSeconds } : { completed: false });
    return true;
  }, MONEY_TX_OPTIONS);
}

/** Progress only ever rises, and stays below 100 until the task completes. */
export async function raiseProgress(db: Db, id: string, progress: number): Promise<void> {
  const p = Math.max(0, Math.min(99, Math.floor(progress)));
  await db.$executeRaw`UPDATE tasks SET progress = GREATEST(progress, ${p}), updated_at = now()
    WHERE id = ${id} AND status = 'processing' AND progress < ${p}`;
}

export function outputsOf(db: Db, taskId: string): Promise<TaskOutput[]> {
  return db.taskOutput.findMany({ where: { taskId }, orderBy: [{ index: 'asc' }, { variant: 'asc' }] });
}

/**
 * Fails a live task (pending or processing) through the state machine; false when it had
 * already ended. Tries both live states, since a worker may move it between the two reads.
 */
export async function failLiveTask(db: Db, id: string, code: string, message: string): Promise<boolean> {
  const data = { errorCode: code, errorMessage: message.slice(0, 2000), completedAt: new Date() };
  if (await transitionTask(db, id, 'processing', 'failed', data)) return true;
  return transitionTask(db, id, 'pending', 'failed', data);
}

/** Hides a task from its owner for good; false when it was already deleted. */
export async function markTaskDeleted(db: Db, id: string): Promise<boolean> {
  const res = await db.task.updateMany({ where: { id, deletedAt: null }, data: { deletedAt: new Date() } });
  return res.count === 1;
}

export interface ListTasksQuery {
  apiKeyId: string;
  limit: number;
  order: 'asc' | 'desc';
  /** Id of the last task of the previous page. */
  after?: { id: string; createdAt: Date } | null;
  status?: TaskStatus;
  user?: string;
  model?: string;
}

/**
 * One page of a key's own, non-deleted tasks, keyset-paginated on (created_at, id) so it walks
 * the (api_key_id, created_at desc, id desc) index; fetches one extra row to tell has_more.
 */
export async function listTasks(db: Db, q: ListTasksQuery): Promise<{ tasks: Task[]; hasMore: boolean }> {
  const beyond = q.order === 'desc' ? 'lt' : 'gt';
  const upTo = q.order === 'desc' ? 'lte' : 'gte';
  const rows = await db.task.findMany({
    where: {
      apiKeyId: q.apiKeyId,
      deletedAt: null,
      ...(q.status ? { status: q.status } : {}),
      ...(q.user !== undefined ? { user: q.user } : {}),
      ...(q.model !== undefined ? { model: q.model } : {}),
      // created_at <= cursor is the index range to seek to; the OR only breaks ties on id.
      ...(q.after
        ? {
            createdAt: { [upTo]: q.after.createdAt },
            OR: [{ createdAt: { [beyond]: q.after.createdAt } }, { id: { [beyond]: q.after.id } }],
          }
        : {}),
    },
    orderBy: [{ createdAt: q.order }, { id: q.order }],
    take: q.limit + 1,
  });
  return { tasks: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

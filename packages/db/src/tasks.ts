import { assertTransition, type TaskStatus } from '@reelay/core';
import type { Db } from './client';
import type { Prisma, Task, TaskOutput } from './generated/prisma/client';

export type { Task, TaskOutput };

export { findTaskForOwner, insertTask, type NewTask } from './hot-path';

/**
 * Moves a task from one status to another, guarded by the current status, so that of two
 * workers racing on one task exactly one wins. Returns whether this call made the move.
 */
export async function transitionTask(
  db: Db,
  id: string,
  from: TaskStatus,
  to: TaskStatus,
  data: Prisma.TaskUpdateManyMutationInput = {},
): Promise<boolean> {
  assertTransition(from, to);
  const res = await db.task.updateMany({ where: { id, status: from }, data: { ...data, status: to } });
  return res.count === 1;
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

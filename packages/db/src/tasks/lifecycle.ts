import { assertTransition, isTerminal, type TaskErrorCode, type TaskStatus } from '@reelay/core';
import { closeBilling, MONEY_TX_OPTIONS } from '../billing';
import type { Db } from '../client';
import type { Prisma } from '../generated/prisma/client';

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

/**
 * Fails a live task (pending or processing) through the state machine; false when it had
 * already ended. Tries both live states, since a worker may move it between the two reads.
 */
export async function failLiveTask(db: Db, id: string, code: TaskErrorCode, message: string): Promise<boolean> {
  const data = { errorCode: code, errorMessage: message.slice(0, 2000), completedAt: new Date() };
  if (await transitionTask(db, id, 'processing', 'failed', data)) return true;
  return transitionTask(db, id, 'pending', 'failed', data);
}

/** Hides a task from its owner for good; false when it was already deleted. */
export async function markTaskDeleted(db: Db, id: string): Promise<boolean> {
  const res = await db.task.updateMany({ where: { id, deletedAt: null }, data: { deletedAt: new Date() } });
  return res.count === 1;
}

/** Writes the target a pending task is about to be submitted to, before the call (so a crash resubmits there first). */
export async function chooseTarget(db: Db, id: string, targetKey: string, provider: string): Promise<void> {
  await db.task.updateMany({ where: { id, status: 'pending' }, data: { providerTarget: targetKey, provider } });
}

/** Counts a submit round in which no target accepted the task. */
export async function recordSubmitRound(db: Db, id: string, rounds: number): Promise<void> {
  await db.task.update({ where: { id }, data: { submitAttempts: rounds } });
}

/**
 * Ended tasks of one deployment (queue prefix: its storage holds their files) whose results are
 * past expires_at and not swept yet, in expires_at order (tasks_expires_at_idx).
 */
export async function findExpiredResults(db: Db, queuePrefix: string, now: Date, limit: number): Promise<string[]> {
  const rows = await db.task.findMany({
    where: { expiresAt: { lte: now }, filesDeletedAt: null, status: { in: ['completed', 'failed'] }, queuePrefix },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: limit,
  });
  return rows.map((r) => r.id);
}

/** After its files were removed: forget the task's outputs and stamp files_deleted_at (the row stays, content answers 410). */
export async function markResultsExpired(db: Db, id: string): Promise<void> {
  await db.$transaction([
    db.taskOutput.deleteMany({ where: { taskId: id } }),
    db.task.updateMany({ where: { id, filesDeletedAt: null }, data: { filesDeletedAt: new Date() } }),
  ]);
}

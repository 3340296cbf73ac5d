import { assertTransition, isTerminal, type TaskErrorCode, type TaskStatus } from '@reelay/core';
import { closeBilling, MONEY_TX_OPTIONS } from '../billing';
import type { Db } from '../client';
import type { Prisma } from '../generated/prisma/client';
import { statement } from '../pg';
import { poolOf } from '../client';
import type { TaskEventActor } from './events';

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
  actor: TaskEventActor | null = null,
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
    // The end of the task on its timeline, from the row as just written (target, code, message).
    const kind = to === 'failed' && data.errorCode === 'cancelled' ? 'cancelled' : to;
    await tx.$executeRaw`INSERT INTO task_events (task_id, kind, target, upstream_id, progress, code, message, actor)
      SELECT id, ${kind}, provider_target, upstream_id, progress, error_code, error_message, ${actor} FROM tasks WHERE id = ${id}`;
    await closeBilling(tx, id, to === 'completed' ? { completed: true, producedSeconds } : { completed: false });
    return true;
  }, MONEY_TX_OPTIONS);
}

/**
 * Fails a live task (pending or processing) through the state machine; false when it had
 * already ended. Tries both live states, since a worker may move it between the two reads.
 */
export async function failLiveTask(db: Db, id: string, code: TaskErrorCode, message: string, actor: TaskEventActor | null = null): Promise<boolean> {
  const data = { errorCode: code, errorMessage: message.slice(0, 2000), completedAt: new Date() };
  if (await transitionTask(db, id, 'processing', 'failed', data, {}, actor)) return true;
  return transitionTask(db, id, 'pending', 'failed', data, {}, actor);
}

/** Hides a task from its owner for good; false when it was already deleted. */
export async function markTaskDeleted(db: Db, id: string): Promise<boolean> {
  const res = await db.task.updateMany({ where: { id, deletedAt: null }, data: { deletedAt: new Date() } });
  return res.count === 1;
}

const CHOOSE_TARGET = statement(`WITH chosen AS (
    UPDATE tasks SET provider_target = $2, provider = $3, updated_at = now() WHERE id = $1 AND status = 'pending'
    RETURNING id, submit_attempts
  )
  INSERT INTO task_events (task_id, kind, target, attempt) SELECT id, 'submitting', $2, submit_attempts + 1 FROM chosen`);

/**
 * Writes the target a pending task is about to be submitted to, before the call (so a crash
 * resubmits there first), and the attempt on its timeline (attempt n is submit round n).
 */
export async function chooseTarget(db: Db, id: string, targetKey: string, provider: string): Promise<void> {
  await poolOf(db).query({ ...CHOOSE_TARGET, values: [id, targetKey, provider] });
}

const MARK_SUBMITTED = statement(`WITH moved AS (
    UPDATE tasks SET status = 'processing', provider = $2, provider_target = $3, upstream_model = $4, upstream_id = $5,
      started_at = $6, next_poll_at = $7, updated_at = now()
    WHERE id = $1 AND status = 'pending'
    RETURNING id, submit_attempts
  ), logged AS (
    INSERT INTO task_events (task_id, kind, target, attempt, upstream_id) SELECT id, 'submitted', $3, submit_attempts + 1, $5 FROM moved
  )
  SELECT count(*)::int AS moved FROM moved`);

/**
 * A pending task accepted by an upstream moves to processing with the upstream's id, and says so
 * on its timeline, in one statement; false when it was no longer pending (cancelled meanwhile).
 */
export async function markTaskSubmitted(
  db: Db,
  id: string,
  s: { provider: string; providerTarget: string; upstreamModel: string | null; upstreamId: string; startedAt: Date; nextPollAt: Date },
): Promise<boolean> {
  assertTransition('pending', 'processing');
  const res = await poolOf(db).query<{ moved: number }>({
    ...MARK_SUBMITTED,
    values: [id, s.provider, s.providerTarget, s.upstreamModel, s.upstreamId, s.startedAt.toISOString(), s.nextPollAt.toISOString()],
  });
  return res.rows[0]!.moved === 1;
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

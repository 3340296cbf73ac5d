/**
 * The task lifecycle, in one place. A task's stored status is one of four words; its phase adds
 * the one distinction the scheduler needs inside `pending`: waiting for a slot (not yet admitted)
 * or admitted (holding a slot, its job queued). Every status change goes through `canTransition`,
 * and the database layer applies it as `UPDATE … WHERE status = <from>`, so a duplicated or retried
 * job can never move a task twice. The SQL that matches these phases is in packages/db
 * (tasks/phase-sql.ts), next to the queries that use it.
 */
export const TASK_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** waiting → admitted → processing → completed | failed. */
export const TASK_PHASES = ['waiting', 'admitted', 'processing', 'completed', 'failed'] as const;
export type TaskPhase = (typeof TASK_PHASES)[number];

const allowed: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ['processing', 'failed'],
  processing: ['completed', 'failed'],
  completed: [],
  failed: [],
};

export const canTransition = (from: TaskStatus, to: TaskStatus): boolean => allowed[from].includes(to);
export const isTerminal = (s: TaskStatus): boolean => allowed[s].length === 0;
/** Live: not ended yet (waiting, admitted or processing). */
export const LIVE_STATUSES = ['pending', 'processing'] as const satisfies readonly TaskStatus[];
export const isLive = (s: TaskStatus | string): boolean => s === 'pending' || s === 'processing';

export function phaseOf(task: { status: TaskStatus; admittedAt: Date | null }): TaskPhase {
  if (task.status === 'pending') return task.admittedAt ? 'admitted' : 'waiting';
  return task.status;
}
/** A task holds one of its key's (and its provider's) concurrency slots from admission until it ends. */
export const holdsSlot = (task: { status: TaskStatus; admittedAt: Date | null }): boolean => {
  const phase = phaseOf(task);
  return phase === 'admitted' || phase === 'processing';
};

export class IllegalTransitionError extends Error {
  constructor(from: TaskStatus, to: TaskStatus) {
    super(`illegal task transition ${from} -> ${to}`);
  }
}

export function assertTransition(from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

/**
 * Codes a failed task carries in `error.code` (GET /v1/videos/{id}). Upstream failures are
 * mapped onto these; a short, clean message goes in `error.message`.
 */
export const TASK_ERROR_CODES = [
  /** The upstream refused or failed the task (auth, unknown model, its own failure, gave up retrying). */
  'upstream_error',
  /** The upstream rejected the request as invalid (its 400/422): resubmitting the same input fails again. */
  'invalid_request',
  /** The upstream's moderation refused the prompt or image. */
  'content_policy_violation',
  /** The task did not finish within its model's deadline; the upstream task was cancelled. */
  'timeout',
  /** Cancelled by its owner (a delete, or a cancel of its batch). */
  'cancelled',
  /** Its batch's completion window ended before it did. */
  'batch_expired',
] as const;
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[number];

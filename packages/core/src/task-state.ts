/**
 * The task state machine. Every status change in Reelay goes through `canTransition`, and the
 * database layer applies it as `UPDATE … WHERE status = <from>` so a duplicated or retried job
 * can never move a task twice.
 */
export const TASK_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const allowed: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ['processing', 'failed'],
  processing: ['completed', 'failed'],
  completed: [],
  failed: [],
};

export const canTransition = (from: TaskStatus, to: TaskStatus): boolean => allowed[from].includes(to);
export const isTerminal = (s: TaskStatus): boolean => allowed[s].length === 0;

export class IllegalTransitionError extends Error {
  constructor(from: TaskStatus, to: TaskStatus) {
    super(`illegal task transition ${from} -> ${to}`);
  }
}

export function assertTransition(from: TaskStatus, to: TaskStatus): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

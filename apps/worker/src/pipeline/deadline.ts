import type { ModelSpec } from '@reelay/core';
import type { Task } from '@reelay/db';

export const DEFAULT_DEADLINE_SECONDS = 3600;

export const deadlineSecondsOf = (model: Pick<ModelSpec, 'deadlineSeconds'> | undefined): number => model?.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS;

/** When a task must have ended, from its model's `deadlineSeconds` in the catalog. */
export const deadlineOf = (task: Pick<Task, 'createdAt'>, model: Pick<ModelSpec, 'deadlineSeconds'> | undefined): number =>
  task.createdAt.getTime() + deadlineSecondsOf(model) * 1000;

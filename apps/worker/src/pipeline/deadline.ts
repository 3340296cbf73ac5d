import type { ModelSpec } from '@reelay/core';
import type { Task } from '@reelay/db';

/** When a task must have ended, from its model's `deadlineSeconds` in the catalog. */
export const deadlineOf = (task: Pick<Task, 'createdAt'>, model: Pick<ModelSpec, 'deadlineSeconds'> | undefined): number =>
  task.createdAt.getTime() + (model?.deadlineSeconds ?? 3600) * 1000;

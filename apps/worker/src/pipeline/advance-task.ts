import { phaseOf } from '@reelay/core';
import { findTaskById } from '@reelay/db';
import type { WorkerContext } from '../context';
import { done, type StepOutcome } from './outcome';
import { pollTask } from './poll';
import { submitTask } from './submit';
import { queueTaskEvents } from './task-ended';
import { completeTaskImages } from './task-images';

/** One step of a task's life, chosen from its stored phase (Postgres is the source of truth). */
export async function advanceTask(ctx: WorkerContext, taskId: string): Promise<StepOutcome> {
  const task = await findTaskById(ctx.db, taskId);
  if (!task) return done;
  switch (phaseOf(task)) {
    case 'waiting':
      // It waits without a job; the admission step queues it when its turn comes.
      return done;
    case 'admitted':
      return submitTask(ctx, task);
    case 'processing':
      return pollTask(ctx, task);
    default:
      // Already ended: make sure its events were queued and its images stored (no-ops when they were).
      await queueTaskEvents(ctx, taskId);
      await completeTaskImages(ctx, task);
      return done;
  }
}

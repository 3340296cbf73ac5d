import { webhookEventId, type WebhookEventType } from '@reelay/core';
import { tasksCompleted, tasksFailed } from '@reelay/observability';
import { enqueueWebhook } from '@reelay/queue';
import { findTaskEnd, type TaskEnd } from '@reelay/db';
import type { WorkerContext } from '../context';

const EVENT_OF = { completed: 'video.completed', failed: 'video.failed' } as const satisfies Record<string, WebhookEventType>;

/**
 * Runs once per terminal transition, right after the guarded update that won it: counts the task
 * and queues its client webhooks.
 */
export async function onTaskEnded(ctx: WorkerContext, taskId: string): Promise<void> {
  const task = await findTaskEnd(ctx.db, taskId);
  if (!task) return;
  if (task.status === 'completed') tasksCompleted.inc({ model: task.model, provider: task.provider });
  if (task.status === 'failed') tasksFailed.inc({ model: task.model, provider: task.provider, code: task.errorCode ?? 'unknown' });
  ctx.logger.info({ status: task.status, errorCode: task.errorCode ?? undefined }, 'task ended');
  await queueEventsOf(ctx, taskId, task);
}

/**
 * Queues the ended task's event for the key's webhook URL and for the task's callback_url. Job
 * ids derive from (event, target), so calling this again for the same task is a no-op; the task
 * job calls it again when it finds its task already ended, which covers a crash between the
 * transition and this enqueue.
 */
export async function queueTaskEvents(ctx: WorkerContext, taskId: string): Promise<void> {
  const task = await findTaskEnd(ctx.db, taskId);
  if (task) await queueEventsOf(ctx, taskId, task);
}

async function queueEventsOf(ctx: WorkerContext, taskId: string, task: TaskEnd): Promise<void> {
  if (task.status !== 'completed' && task.status !== 'failed') return;
  // A task its owner deleted ended by that request; there is nothing left to announce.
  if (task.deletedAt) return;
  // A batch's tasks are announced by their batch's one event (batch.completed, …), not one each.
  if (task.batchId) return;
  const type = EVENT_OF[task.status];
  const eventId = webhookEventId(taskId, type);
  const createdAt = Math.floor(Date.now() / 1000);
  const targets = [...(task.webhookUrl ? (['key'] as const) : []), ...(task.callbackUrl ? (['callback'] as const) : [])];
  for (const target of targets) {
    await enqueueWebhook(ctx.webhooksQueue, { eventId, type, taskId, target, createdAt, requestId: ctx.requestId });
  }
}

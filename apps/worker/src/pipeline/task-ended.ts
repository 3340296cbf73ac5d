import { webhookEventId, type WebhookEventType } from '@reelay/core';
import { taskCostMicros, taskOutcomes, taskQueueSeconds, taskRunSeconds, tasksCompleted, tasksFailed, taskTotalSeconds } from '@reelay/observability';
import { enqueueWebhook } from '@reelay/queue';
import { findTaskEnd, type TaskEnd } from '@reelay/db';
import type { WorkerContext } from '../context';

const EVENT_OF = { completed: 'video.completed', failed: 'video.failed' } as const satisfies Record<string, WebhookEventType>;

/**
 * Runs once per terminal transition, right after the guarded update that won it (with the row it
 * returned): counts the task and queues its client webhooks.
 */
export async function onTaskEnded(ctx: WorkerContext, taskId: string, task: TaskEnd): Promise<void> {
  if (task.status === 'completed') tasksCompleted.inc({ model: task.model, provider: task.provider });
  if (task.status === 'failed') tasksFailed.inc({ model: task.model, provider: task.provider, code: task.errorCode ?? 'unknown' });
  observeEnd(task);
  if (task.status === 'completed') ctx.job?.progress(100);
  ctx.job?.log(task.status === 'completed' ? 'completed' : `failed: ${task.errorCode ?? 'unknown'}`);
  ctx.logger.info(
    {
      taskId,
      keyId: task.apiKeyId,
      model: task.model,
      target: task.providerTarget ?? undefined,
      attempt: task.submitAttempts + 1,
      polls: task.pollCount,
      status: task.status,
      errorCode: task.errorCode ?? undefined,
      queueMs: task.startedAt ? task.startedAt.getTime() - task.createdAt.getTime() : undefined,
      durationMs: task.completedAt ? task.completedAt.getTime() - task.createdAt.getTime() : undefined,
      costMicros: task.costMicros !== null ? Number(task.costMicros) : undefined,
    },
    'task ended',
  );
  await queueEventsOf(ctx, taskId, task);
}

/** The end of a task in the latency histograms, the per-target outcome counter and the money charged. */
function observeEnd(task: TaskEnd): void {
  const outcome = task.status;
  const ended = (task.completedAt ?? new Date()).getTime();
  if (task.startedAt) {
    taskQueueSeconds.observe({ model: task.model }, (task.startedAt.getTime() - task.createdAt.getTime()) / 1000);
    taskRunSeconds.observe({ model: task.model }, (ended - task.startedAt.getTime()) / 1000);
  }
  taskTotalSeconds.observe({ model: task.model, outcome }, (ended - task.createdAt.getTime()) / 1000);
  taskOutcomes.inc({ target: task.providerTarget ?? 'none', outcome, code: task.errorCode ?? 'none' });
  if (task.costMicros !== null && task.costMicros > 0n) taskCostMicros.inc({ model: task.model }, Number(task.costMicros));
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

import { newId } from '@reelay/core';
import type { Db } from './client';
import { Prisma } from './generated/prisma/client';
import { timelineHasRoom } from './tasks/events';

/** Where a task's webhooks go, read at each attempt (a rotated secret or a changed URL applies to the next one). */
export interface WebhookDestination {
  callbackUrl: string | null;
  deleted: boolean;
  keyWebhookUrl: string | null;
  keyWebhookSecret: string | null;
}

export async function findWebhookDestination(db: Db, taskId: string): Promise<WebhookDestination | null> {
  const task = await db.task.findUnique({
    where: { id: taskId },
    select: { callbackUrl: true, deletedAt: true, apiKey: { select: { webhookUrl: true, webhookSecret: true } } },
  });
  if (!task) return null;
  return {
    callbackUrl: task.callbackUrl,
    deleted: task.deletedAt !== null,
    keyWebhookUrl: task.apiKey.webhookUrl,
    keyWebhookSecret: task.apiKey.webhookSecret,
  };
}

/** Where a batch's events go: the key's webhook URL only (a batch has no callback_url). */
export async function findBatchWebhookDestination(db: Db, batchId: string): Promise<WebhookDestination | null> {
  const batch = await db.batch.findUnique({ where: { id: batchId }, select: { apiKey: { select: { webhookUrl: true, webhookSecret: true } } } });
  if (!batch) return null;
  return { callbackUrl: null, deleted: false, keyWebhookUrl: batch.apiKey.webhookUrl, keyWebhookSecret: batch.apiKey.webhookSecret };
}

export interface WebhookAttempt {
  eventId: string;
  eventType: string;
  taskId: string | null;
  batchId?: string | null;
  target: string;
  url: string;
  attempt: number;
  status: 'delivered' | 'failed';
  responseCode: number | null;
  latencyMs: number;
  error: string | null;
}

/**
 * Every delivery attempt is recorded, whatever its outcome, and a task's shows on its timeline
 * (same statement); a batch's event has no task and no timeline.
 */
export async function recordWebhookAttempt(db: Db, a: WebhookAttempt): Promise<void> {
  const summary = `${a.eventType} to the ${a.target === 'key' ? "key's webhook" : 'callback_url'}: ${a.status}${a.responseCode !== null ? ` (HTTP ${a.responseCode})` : ''} in ${a.latencyMs} ms${a.error ? `: ${a.error}` : ''}`;
  await db.$executeRaw`WITH delivery AS (
      INSERT INTO webhook_deliveries (id, event_id, event_type, task_id, batch_id, target, url, attempt, status, response_code, latency_ms, error)
      VALUES (${newId('whd')}, ${a.eventId}, ${a.eventType}, ${a.taskId}, ${a.batchId ?? null}, ${a.target}, ${a.url}, ${a.attempt}, ${a.status}, ${a.responseCode}, ${a.latencyMs}, ${a.error})
      RETURNING task_id
    )
    INSERT INTO task_events (task_id, kind, attempt, code, message)
    SELECT task_id, 'webhook', ${a.attempt}, ${a.status === 'failed' ? 'webhook_failed' : null}, ${summary.slice(0, 2000)} FROM delivery
    WHERE delivery.task_id IS NOT NULL AND ${Prisma.raw(timelineHasRoom('delivery.task_id'))}`;
}

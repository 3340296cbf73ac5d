import { signWebhook, webhookEventBody } from '@reelay/core';
import { findBatchWebhookDestination, findWebhookDestination, recordWebhookAttempt } from '@reelay/db';
import { allowListMatcher, parseAllowList, safeFetch, UnsafeUrlError } from '@reelay/net';
import { webhookDeliveries, webhookDeliveryDuration } from '@reelay/observability';
import type { WebhookJob } from '@reelay/queue';
import type { WorkerContext } from '../context';

export type DeliveryResult = { kind: 'delivered'; responseCode: number } | { kind: 'retry'; reason: string } | { kind: 'skip'; reason: string };

const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * One delivery attempt of one event to one URL, recorded in webhook_deliveries whatever happens.
 * Signed with the key's webhook secret, or the deployment's REELAY_WEBHOOK_SECRET when the key has
 * none. The URL and the secret are read now (not carried in the job), so a rotated secret or a
 * changed URL applies to the next attempt and no secret sits in Redis.
 */
export async function deliverWebhook(ctx: WorkerContext, job: WebhookJob, attempt: number): Promise<DeliveryResult> {
  const subjectId = job.batchId ?? job.taskId;
  if (!subjectId) return { kind: 'skip', reason: 'the event names no task or batch' };
  const task = job.batchId ? await findBatchWebhookDestination(ctx.db, job.batchId) : await findWebhookDestination(ctx.db, subjectId);
  if (!task || task.deleted) return { kind: 'skip', reason: 'task was deleted' };
  const url = job.target === 'key' ? task.keyWebhookUrl : task.callbackUrl;
  if (!url) return { kind: 'skip', reason: `no ${job.target === 'key' ? 'webhook_url on the key' : 'callback_url on the task'}` };

  const record = (status: 'delivered' | 'failed', latencyMs: number, responseCode: number | null, error: string | null) =>
    recordWebhookAttempt(ctx.db, {
      eventId: job.eventId,
      eventType: job.type,
      taskId: job.taskId ?? null,
      batchId: job.batchId ?? null,
      target: job.target,
      url,
      attempt,
      status,
      responseCode,
      latencyMs,
      error,
    });

  const secret = task.keyWebhookSecret ?? ctx.config.REELAY_WEBHOOK_SECRET;
  if (!secret) {
    await record('failed', 0, null, 'no signing secret: the key has no webhook_secret and REELAY_WEBHOOK_SECRET is unset');
    webhookDeliveries.inc({ target: job.target, outcome: 'gave_up' });
    return { kind: 'skip', reason: 'no signing secret' };
  }

  const body = webhookEventBody(job.eventId, job.type, job.createdAt, subjectId);
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  let responseCode: number | null = null;
  let error: string | null = null;
  try {
    const res = await safeFetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Reelay-Webhooks/1',
        'webhook-id': job.eventId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(secret, job.eventId, timestamp, body),
      },
      body,
      maxBytes: MAX_RESPONSE_BYTES,
      timeoutMs: ctx.config.WEBHOOK_TIMEOUT_MS,
      // A receiver answers; it does not send us elsewhere.
      maxRedirects: 0,
      // The operator's allow-list (REELAY_FETCH_ALLOW_HOSTS), the same one image URLs use.
      allowExtra: allowListMatcher(parseAllowList(ctx.config.REELAY_FETCH_ALLOW_HOSTS)),
    });
    responseCode = res.status;
    if (res.status < 200 || res.status >= 300) error = `receiver answered HTTP ${res.status}`;
  } catch (err) {
    error = err instanceof UnsafeUrlError ? err.message : `delivery failed: ${(err as Error).message}`;
  }
  const latencyMs = Math.round(performance.now() - started);
  webhookDeliveryDuration.observe({ target: job.target }, latencyMs / 1000);
  await record(error ? 'failed' : 'delivered', latencyMs, responseCode, error);
  webhookDeliveries.inc({ target: job.target, outcome: error ? 'failed' : 'delivered' });
  ctx.logger.info(
    { eventId: job.eventId, taskId: job.taskId, batchId: job.batchId, target: job.target, attempt, responseCode, latencyMs, error: error ?? undefined },
    'webhook attempt',
  );
  return error ? { kind: 'retry', reason: error } : { kind: 'delivered', responseCode: responseCode! };
}

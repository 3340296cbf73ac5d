import type { Job } from 'bullmq';
import { webhookDeliveries } from '@reelay/observability';
import { webhookJobSchema, type WebhookJob } from '@reelay/queue';
import type { WorkerContext } from '../context';
import { deliverWebhook } from '../webhooks/deliver-webhook';

/** Thin: one attempt per run; a failed attempt throws so BullMQ retries it with exponential backoff. */
export function createWebhookProcessor(base: WorkerContext) {
  return async (job: Job<WebhookJob>): Promise<void> => {
    const data = webhookJobSchema.parse(job.data);
    const ctx: WorkerContext = { ...base, requestId: data.requestId, logger: base.logger.child({ requestId: data.requestId, jobId: job.id }) };
    const attempt = job.attemptsMade + 1;
    const result = await deliverWebhook(ctx, data, attempt);
    if (result.kind !== 'retry') return;
    if (attempt >= (job.opts.attempts ?? 1)) {
      webhookDeliveries.inc({ target: data.target, outcome: 'gave_up' });
      ctx.logger.warn({ eventId: data.eventId, attempt }, 'webhook given up');
    }
    throw new Error(result.reason);
  };
}

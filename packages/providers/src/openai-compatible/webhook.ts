import { Webhook } from 'standardwebhooks';
import { headerOf } from '../http';
import type { UpstreamWebhookRequest } from '../provider';

/**
 * OpenAI's webhooks (https://platform.openai.com/docs/guides/webhooks): one endpoint per project,
 * set in OpenAI's dashboard (not per request), signed the Standard Webhooks way with the
 * endpoint's `whsec_…` secret. Events: `video.completed`, `video.failed`, with `data.id` the video.
 * Returns the video id and whether the event ends it, or null when the signature does not verify.
 */
export function verifyOpenAIWebhook(secret: string, req: UpstreamWebhookRequest): { upstreamId: string; terminal: boolean } | null {
  const h = (n: string): string => headerOf(req.headers, n);
  let event: { type?: unknown; data?: { id?: unknown } };
  try {
    event = new Webhook(secret).verify(req.body, {
      'webhook-id': h('webhook-id'),
      'webhook-timestamp': h('webhook-timestamp'),
      'webhook-signature': h('webhook-signature'),
    }) as typeof event;
  } catch {
    return null;
  }
  if (typeof event.data?.id !== 'string' || typeof event.type !== 'string' || !event.type.startsWith('video.')) return null;
  return { upstreamId: event.data.id, terminal: event.type === 'video.completed' || event.type === 'video.failed' };
}

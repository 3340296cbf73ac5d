import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/), the scheme the openai SDK's
 * `webhooks.unwrap()` verifies. A secret that starts with `whsec_` is base64 key bytes after the
 * prefix; any other secret is used as UTF-8 bytes. The SDK decodes secrets the same way.
 */
export type WebhookEventType = 'video.completed' | 'video.failed' | 'batch.completed' | 'batch.failed' | 'batch.cancelled' | 'batch.expired';

/** A new signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

export function webhookSecretBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` header value for one delivery attempt. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', webhookSecretBytes(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** Derived from task (or batch) and type, so every emission of one terminal transition has the same id. */
export const webhookEventId = (subjectId: string, type: WebhookEventType): string =>
  `evt_${createHash('sha256').update(`${subjectId}:${type}`).digest('hex').slice(0, 32)}`;

/** The event body: `data.id` is the video's id, or the batch's for batch.* events (OpenAI's shape for both). */
export function webhookEventBody(id: string, type: WebhookEventType, createdAt: number, subjectId: string): string {
  return JSON.stringify({ id, object: 'event', type, created_at: createdAt, data: { id: subjectId } });
}

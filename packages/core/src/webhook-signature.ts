import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/), the scheme the openai SDK's
 * `webhooks.unwrap()` verifies. A secret that starts with `whsec_` is base64 key bytes after the
 * prefix; any other secret is used as UTF-8 bytes. The SDK decodes secrets the same way.
 */
export type WebhookEventType = 'video.completed' | 'video.failed';

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

/** Derived from task and type, so every emission of one terminal transition has the same id. */
export const webhookEventId = (taskId: string, type: WebhookEventType): string =>
  `evt_${createHash('sha256').update(`${taskId}:${type}`).digest('hex').slice(0, 32)}`;

export function webhookEventBody(id: string, type: WebhookEventType, createdAt: number, taskId: string): string {
  return JSON.stringify({ id, object: 'event', type, created_at: createdAt, data: { id: taskId } });
}

import { createHmac } from 'node:crypto';
import { newWebhookSecret, signWebhook, webhookEventBody, webhookEventId, webhookSecretBytes } from './webhook-signature';

test('whsec_ secrets are base64 key bytes; other secrets are their UTF-8 bytes', () => {
  const secret = newWebhookSecret();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  expect(webhookSecretBytes(secret)).toHaveLength(32);
  expect(webhookSecretBytes('plain-secret').toString('utf8')).toBe('plain-secret');
});

test('signature is v1,base64(HMAC-SHA256(key, "id.timestamp.body"))', () => {
  const key = Buffer.alloc(32, 7);
  const secret = `whsec_${key.toString('base64')}`;
  const expected = createHmac('sha256', key).update('evt_1.1700000000.{"a":1}').digest('base64');
  expect(signWebhook(secret, 'evt_1', 1700000000, '{"a":1}')).toBe(`v1,${expected}`);
  expect(signWebhook(secret, 'evt_1', 1700000001, '{"a":1}')).not.toBe(`v1,${expected}`);
});

test('event ids are stable per task and type, and the body has the documented shape', () => {
  expect(webhookEventId('vid_a', 'video.completed')).toBe(webhookEventId('vid_a', 'video.completed'));
  expect(webhookEventId('vid_a', 'video.completed')).not.toBe(webhookEventId('vid_a', 'video.failed'));
  expect(JSON.parse(webhookEventBody('evt_x', 'video.failed', 5, 'vid_a'))).toEqual({
    id: 'evt_x',
    object: 'event',
    type: 'video.failed',
    created_at: 5,
    data: { id: 'vid_a' },
  });
});

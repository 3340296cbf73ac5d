import { createServer } from 'node:http';
import OpenAI from 'openai';
import { newWebhookSecret } from '@reelay/core';
import { registry } from '@reelay/observability';
import { failTask } from '@reelay/worker/src/pipeline/fail-task';
import { queueTaskEvents } from '@reelay/worker/src/pipeline/task-ended';
import { http, until, webhookReceiver } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Client webhooks end to end: a real loopback receiver verifies each delivery with the openai
 * SDK's webhooks.unwrap() (Standard Webhooks signatures). Loopback is reachable only because the
 * stack sets the operator allow-list REELAY_FETCH_ALLOW_HOSTS=127.0.0.1.
 */
const TINY = { prompt: 'webhook test', duration: 1, width: 128, height: 128, fps: 24 };
const DEPLOYMENT_SECRET = 'deployment-webhook-secret-0123456789';
let stack: Stack;
const client = new OpenAI({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9/unused' });

beforeAll(async () => {
  stack = await startStack({
    REELAY_FETCH_ALLOW_HOSTS: '127.0.0.1',
    WEBHOOK_BACKOFF_MS: '200',
    WEBHOOK_MAX_ATTEMPTS: '6',
    WEBHOOK_TIMEOUT_MS: '3000',
    REELAY_WEBHOOK_SECRET: DEPLOYMENT_SECRET,
  });
});
afterAll(async () => {
  await stack.close();
});

async function keyWithWebhook(url: string | null, secret: string | null): Promise<string> {
  const key = await stack.newKey();
  const { keyPrefix } = { keyPrefix: key.slice(0, 8) };
  await stack.db.apiKey.updateMany({ where: { keyPrefix }, data: { webhookUrl: url, webhookSecret: secret } });
  return key;
}

test('a receiver failing 3 times gets video.completed once it succeeds, verified by openai webhooks.unwrap(); every attempt is recorded', async () => {
  const rx = await webhookReceiver((n) => (n <= 3 ? 503 : 200));
  const secret = newWebhookSecret();
  const key = await keyWithWebhook(rx.url, secret);
  try {
    const created = await http(stack, 'POST', '/v1/videos', { key, json: TINY });
    expect(created.status).toBe(200);
    const id = created.body.id as string;

    await until('a delivery that succeeded', async () => rx.received.some((r) => r.answered === 200));
    expect(rx.received.map((r) => r.answered)).toEqual([503, 503, 503, 200]);

    // Every attempt carries the same event (same webhook-id and body) and a valid signature.
    const events = [];
    for (const r of rx.received) {
      events.push(await client.webhooks.unwrap(r.body, r.headers as Record<string, string>, secret));
    }
    for (const event of events) {
      expect(event).toMatchObject({ object: 'event', type: 'video.completed', data: { id } });
      expect((event as { id: string }).id).toMatch(/^evt_/);
      expect(typeof (event as { created_at: number }).created_at).toBe('number');
    }
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(rx.received[0]!.headers['webhook-id']).toBe((events[0] as { id: string }).id);
    // A wrong secret is refused by the SDK: the signature really depends on the key's secret.
    await expect(client.webhooks.unwrap(rx.received[3]!.body, rx.received[3]!.headers as Record<string, string>, newWebhookSecret())).rejects.toThrow(
      /signature/i,
    );

    const attempts = await until('4 recorded attempts', async () => {
      const rows = await stack.db.webhookDelivery.findMany({ where: { taskId: id }, orderBy: { attempt: 'asc' } });
      return rows.length === 4 && rows;
    });
    expect(attempts.map((a) => [a.attempt, a.status, a.responseCode, a.target])).toEqual([
      [1, 'failed', 503, 'key'],
      [2, 'failed', 503, 'key'],
      [3, 'failed', 503, 'key'],
      [4, 'delivered', 200, 'key'],
    ]);
    for (const a of attempts) expect(a.latencyMs).toBeGreaterThanOrEqual(0);

    // Queueing the event again (a retried finalize, or the task job finding its task already
    // ended) is a no-op: the delivery job id is derived from the event and the target.
    await queueTaskEvents(stack.worker!.ctx, id);
    // Nothing more arrives: the event was delivered once it succeeded, and only then.
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.received).toHaveLength(4);
  } finally {
    rx.server.close();
  }
});

test('callback_url gets video.failed signed with the deployment secret when the key has none; the key URL and callback are separate deliveries', async () => {
  const keyRx = await webhookReceiver(() => 200);
  const cbRx = await webhookReceiver(() => 204);
  const key = await keyWithWebhook(keyRx.url, null);
  try {
    // Paused, so the worker cannot finish the task before this test fails it.
    await stack.api.deps.tasksQueue.pause();
    const created = await http(stack, 'POST', '/v1/videos', { key, json: { ...TINY, callback_url: cbRx.url } });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    // Fail it through the worker's own terminal path (as an upstream rejection would).
    expect(await failTask(stack.worker!.ctx, id, 'content_policy_violation', 'refused by the upstream')).toBe(true);
    // A second terminal call is a no-op: no second event.
    expect(await failTask(stack.worker!.ctx, id, 'content_policy_violation', 'again')).toBe(false);
    // Counted once, under the task's model, provider and error code.
    expect(await registry.getSingleMetricAsString('reelay_tasks_failed_total')).toMatch(
      /^reelay_tasks_failed_total\{model="sora-1.0",provider="preview",code="content_policy_violation"\} 1$/m,
    );
    // The task's job now runs, finds the task ended and queues its events again: still one each.
    await stack.api.deps.tasksQueue.resume();
    await until('both deliveries', async () => keyRx.received.length >= 1 && cbRx.received.length >= 1);
    for (const r of [...keyRx.received, ...cbRx.received]) {
      const event = await client.webhooks.unwrap(r.body, r.headers as Record<string, string>, DEPLOYMENT_SECRET);
      expect(event).toMatchObject({ type: 'video.failed', data: { id } });
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect([keyRx.received.length, cbRx.received.length]).toEqual([1, 1]);
    const rows = await stack.db.webhookDelivery.findMany({ where: { taskId: id } });
    expect(rows.map((r) => `${r.target}:${r.status}:${r.responseCode}`).sort()).toEqual(['callback:delivered:204', 'key:delivered:200']);
  } finally {
    await stack.api.deps.tasksQueue.resume();
    keyRx.server.close();
    cbRx.server.close();
  }
});

test('a receiver that never answers is cut off at WEBHOOK_TIMEOUT_MS and recorded, while other tasks and deliveries go on', async () => {
  const hanging = createServer(() => undefined); // accepts, never answers
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as { port: number }).port}/hook`;
  const healthy = await webhookReceiver(() => 200);
  const slowKey = await keyWithWebhook(hangingUrl, newWebhookSecret());
  const okKey = await keyWithWebhook(healthy.url, newWebhookSecret());
  try {
    const slow = await http(stack, 'POST', '/v1/videos', { key: slowKey, json: TINY });
    const ok = await http(stack, 'POST', '/v1/videos', { key: okKey, json: TINY });
    expect([slow.status, ok.status]).toEqual([200, 200]);
    await until('the healthy receiver to get its event', async () => healthy.received.length >= 1);
    const row = await until('a recorded timeout', async () => (await stack.db.webhookDelivery.findFirst({ where: { taskId: slow.body.id } })) ?? undefined);
    expect(row.status).toBe('failed');
    expect(row.responseCode).toBeNull();
    expect(row.error).toMatch(/timed out after 3000 ms/);
  } finally {
    hanging.closeAllConnections();
    hanging.close();
    healthy.server.close();
  }
});

test('without the operator allow-list, a loopback webhook URL is refused before any connection and the refusal is recorded', async () => {
  const guarded = await startStack({ WEBHOOK_BACKOFF_MS: '100', WEBHOOK_MAX_ATTEMPTS: '2', REELAY_WEBHOOK_SECRET: DEPLOYMENT_SECRET });
  let connections = 0;
  const rx = await webhookReceiver(() => 200);
  rx.server.on('connection', () => connections++);
  try {
    const key = await guarded.newKey();
    await guarded.db.apiKey.updateMany({ where: { keyPrefix: key.slice(0, 8) }, data: { webhookUrl: rx.url } });
    const created = await http(guarded, 'POST', '/v1/videos', { key, json: TINY });
    expect(created.status).toBe(200);
    const rows = await until('two refused attempts', async () => {
      const r = await guarded.db.webhookDelivery.findMany({ where: { taskId: created.body.id }, orderBy: { attempt: 'asc' } });
      return r.length === 2 && r;
    });
    for (const r of rows) {
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/127\.0\.0\.1/);
    }
    expect(connections).toBe(0);
  } finally {
    rx.server.close();
    await guarded.close();
  }
});

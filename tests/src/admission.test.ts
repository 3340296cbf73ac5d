import { createApiKey } from '@reelay/db';
import { admitPendingTasks, type WorkerContext } from '@reelay/worker';
import { http } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// No worker: each test runs admission by hand and reads what one run admitted, in order.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});
// Whatever a test left live is ended, so the next test's runs see only its own tasks.
afterEach(async () => {
  await stack.db.task.updateMany({
    where: { queuePrefix: stack.config.REELAY_QUEUE_PREFIX, status: { in: ['pending', 'processing'] } },
    data: { status: 'failed', errorCode: 'cancelled', completedAt: new Date() },
  });
});

const admitter = (providerLimits?: Record<string, number>): WorkerContext =>
  ({ config: { ...stack.config, REELAY_PROVIDER_CONCURRENCY: providerLimits }, db: stack.db }) as unknown as WorkerContext;

async function keyWithTasks(name: string, tasks: number, maxConcurrent?: number): Promise<string[]> {
  const { secret } = await createApiKey(stack.db, { name, statusDialect: null, ...(maxConcurrent ? { max_concurrent: maxConcurrent } : {}) });
  const ids: string[] = [];
  for (let i = 0; i < tasks; i++) {
    const res = await http(stack, 'POST', '/v1/videos', { key: secret, json: { prompt: `${name} ${i}`, duration: 1, width: 64, height: 64, fps: 24 } });
    expect(res.status).toBe(200);
    ids.push(res.body.id);
  }
  return ids;
}

async function endAll(ids: string[]): Promise<void> {
  await stack.db.task.updateMany({ where: { id: { in: ids } }, data: { status: 'failed', errorCode: 'cancelled', completedAt: new Date() } });
}

test('one run admits in rounds: every waiting key gets one task per round, a key stops at its max_concurrent', async () => {
  const a = await keyWithTasks('A', 4);
  const b = await keyWithTasks('B', 3, 1);
  const c = await keyWithTasks('C', 1);

  const first = (await admitPendingTasks(admitter(), 5)).map((t) => t.id);
  // Round 1: the oldest task of each key (in the order the keys last had a turn); then A alone,
  // because B is at its limit of 1 and C has nothing left.
  expect(new Set(first.slice(0, 3))).toEqual(new Set([a[0], b[0], c[0]]));
  expect(first.slice(3)).toEqual([a[1], a[2]]);

  // Next run: B is still full, so only A's last task; B's other two wait for its slot.
  expect((await admitPendingTasks(admitter(), 5)).map((t) => t.id)).toEqual([a[3]]);
  expect(await admitPendingTasks(admitter(), 5)).toEqual([]);
  await endAll([b[0]!]);
  expect((await admitPendingTasks(admitter(), 5)).map((t) => t.id)).toEqual([b[1]]);
});

test('a provider limit caps a run across keys, and the key that waited longest goes first next time', async () => {
  const a = await keyWithTasks('A2', 3);
  const b = await keyWithTasks('B2', 3);
  const limits = { preview: 3 };

  const first = (await admitPendingTasks(admitter(limits), 100)).map((t) => t.id);
  expect(first).toHaveLength(3); // only the provider's 3 slots, not 100
  expect(first.slice(0, 2).sort()).toEqual([a[0], b[0]].sort());
  const secondTurn = first[2] === a[1] ? 'A' : 'B';
  expect(first[2]).toBe(secondTurn === 'A' ? a[1] : b[1]);
  expect(await admitPendingTasks(admitter(limits), 100)).toEqual([]);

  // One slot frees: the key that did not have the last turn gets it.
  await endAll([first[0]!]);
  const next = (await admitPendingTasks(admitter(limits), 100)).map((t) => t.id);
  expect(next).toEqual([secondTurn === 'A' ? b[1] : a[1]]);
});

test('a task cancelled before its turn is never admitted', async () => {
  const [first, second] = await keyWithTasks('D', 2);
  await endAll([first!]);
  expect((await admitPendingTasks(admitter(), 10)).map((t) => t.id)).toEqual([second]);
});

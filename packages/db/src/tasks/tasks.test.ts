import { costForSeconds } from '@reelay/core';
import { createApiKey, revokeApiKey } from '../keys';
import { createDb, type Db } from '../client';
import {
  completeTask,
  createTask,
  failLiveTask,
  findTaskById,
  findTaskForOwner,
  findVideoForOwner,
  insertTask,
  isIdempotencyKeyRace,
  outputsOf,
  recordOutputsOfCompletedTask,
  recordPoll,
  VIDEO_COLUMNS,
  type NewReservedTask,
} from '.';
import type { Task } from '../generated/prisma/client';

/** The columns every test task shares: a 4 s 64x64 preview clip. */
const tinyTask = (id: string, apiKeyId: string) => ({
  id,
  apiKeyId,
  model: 'sora-1.0',
  provider: 'preview',
  durationSeconds: 4,
  width: 64,
  height: 64,
  fps: 24,
  seed: 1n,
});
const videoOf = (task: Task) => Object.fromEntries(VIDEO_COLUMNS.map((c) => [c, task[c]]));

// Real Postgres (the jest global setup migrates DATABASE_URL).
let db: Db;
beforeAll(() => {
  db = createDb(process.env.DATABASE_URL!, 2);
});
afterAll(async () => {
  await db.$disconnect();
});

test('insertTask and findTaskForOwner return exactly what Prisma returns for the same row', async () => {
  const { key } = await createApiKey(db, { name: 'hot-path' });
  const other = await createApiKey(db, { name: 'hot-path-other' });
  const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  const id = `vid_hotpath${Date.now()}`;
  const inserted = await insertTask(db, {
    id,
    apiKeyId: key.id,
    model: 'sora-1.0',
    provider: 'preview',
    prompt: 'it\'s "quoted"',
    durationSeconds: 2.5,
    width: 128,
    height: 96,
    fps: 24,
    seed: 4294967295n,
    n: 2,
    responseFormat: 'b64_json',
    user: null,
    metadata: { style: 'noir', nested: { a: [1, 2] } },
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + 86_400_000),
  });
  const viaPrisma = await db.task.findUniqueOrThrow({ where: { id } });
  expect(inserted).toEqual(viaPrisma);
  expect(await findTaskForOwner(db, id, key.id)).toEqual(viaPrisma);
  expect(await findVideoForOwner(db, id, key.id)).toEqual(videoOf(viaPrisma));
  expect(viaPrisma.createdAt.toISOString()).toBe('2026-01-02T03:04:05.678Z');
  expect(viaPrisma.seed).toBe(4294967295n);
  expect(viaPrisma.status).toBe('pending');
  // Another key, or a deleted task, finds nothing.
  expect(await findTaskForOwner(db, id, other.key.id)).toBeNull();
  expect(await findVideoForOwner(db, id, other.key.id)).toBeNull();
  await db.task.update({ where: { id }, data: { deletedAt: new Date() } });
  expect(await findTaskForOwner(db, id, key.id)).toBeNull();
  expect(await findVideoForOwner(db, id, key.id)).toBeNull();
});

test('images stored after completion are recorded only while the task is still completed and not deleted', async () => {
  const { key } = await createApiKey(db, { name: 'images-after-completion' });
  const image = (storageKey: string) => ({ index: 0, variant: 'thumbnail' as const, storageKey, bytes: 10, contentType: 'image/jpeg', checksum: 'c' });
  const [live, deleted, running] = ['live', 'deleted', 'running'].map((s) => `vid_images${s}${Date.now()}`) as [string, string, string];
  const expiresAt = new Date(Date.now() + 86_400_000);
  await insertTask(db, { ...tinyTask(live, key.id), status: 'completed', expiresAt });
  await insertTask(db, { ...tinyTask(deleted, key.id), status: 'completed', deletedAt: new Date(), expiresAt });
  await insertTask(db, { ...tinyTask(running, key.id), status: 'processing', expiresAt });
  expect(await recordOutputsOfCompletedTask(db, live, [image('a/thumb.jpg')])).toBe(true);
  expect(await recordOutputsOfCompletedTask(db, live, [image('b/thumb.jpg')])).toBe(true); // a re-run replaces it
  expect((await outputsOf(db, live)).map((o) => o.storageKey)).toEqual(['b/thumb.jpg']);
  for (const id of [deleted, running]) {
    expect(await recordOutputsOfCompletedTask(db, id, [image('c/thumb.jpg')])).toBe(false);
    expect(await outputsOf(db, id)).toEqual([]);
  }
});

test('timestamps read back to the millisecond, however Postgres writes their fraction', async () => {
  const { key } = await createApiKey(db, { name: 'hot-path-time' });
  const times = ['2026-03-04T05:06:07.000Z', '2026-03-04T05:06:07.600Z', '2026-03-04T05:06:07.050Z', '2026-12-31T23:59:59.999Z', '1999-01-01T00:00:00.001Z'];
  for (const [i, iso] of times.entries()) {
    const id = `vid_hottime${Date.now()}_${i}`;
    await insertTask(db, {
      ...tinyTask(id, key.id),
      createdAt: new Date(iso),
      expiresAt: new Date(iso),
    });
    const read = (await findTaskById(db, id))!;
    expect([read.createdAt.toISOString(), read.expiresAt.toISOString()]).toEqual([iso, iso]);
    expect(read).toEqual(await db.task.findUniqueOrThrow({ where: { id } }));
  }
});

test('recordPoll counts polls and failed polls apart, only raises progress, and leaves an ended task alone', async () => {
  const { key } = await createApiKey(db, { name: 'hot-path-poll' });
  const id = `vid_hotpoll${Date.now()}`;
  const now = new Date();
  await insertTask(db, {
    ...tinyTask(id, key.id),
    status: 'processing',
    expiresAt: new Date(now.getTime() + 86_400_000),
  });
  const due = new Date(Date.UTC(2026, 5, 1, 12, 0, 0, 250));
  await recordPoll(db, id, { failed: false, nextPollAt: due, progress: 40.7 });
  await recordPoll(db, id, { failed: true, nextPollAt: due });
  await recordPoll(db, id, { failed: true, nextPollAt: due });
  let t = (await findTaskById(db, id))!;
  expect([t.pollCount, t.pollErrors, t.progress, t.nextPollAt?.toISOString()]).toEqual([1, 2, 40, '2026-06-01T12:00:00.250Z']);
  await recordPoll(db, id, { failed: false, nextPollAt: due, progress: 12 }); // lower progress does not go back
  t = (await findTaskById(db, id))!;
  expect([t.pollCount, t.pollErrors, t.progress]).toEqual([2, 0, 40]);
  expect(t).toEqual(await db.task.findUniqueOrThrow({ where: { id } }));

  await db.task.update({ where: { id }, data: { status: 'completed', progress: 100 } });
  await recordPoll(db, id, { failed: false, nextPollAt: due, progress: 50 });
  t = (await findTaskById(db, id))!;
  expect([t.status, t.pollCount, t.progress]).toEqual(['completed', 2, 100]);
  expect(await findTaskById(db, 'vid_missing')).toBeNull();
});

test('concurrent reads and poll records, batched into one statement each, reach the right rows', async () => {
  const { key } = await createApiKey(db, { name: 'hot-path-batch' });
  const ids = Array.from({ length: 40 }, (_, i) => `vid_hotbatch${Date.now()}_${i}`);
  for (const [i, id] of ids.entries()) {
    await insertTask(db, {
      ...tinyTask(id, key.id),
      prompt: `task ${i}`,
      seed: BigInt(i),
      status: 'processing',
      expiresAt: new Date(Date.now() + 86_400_000),
    });
  }
  // Issued in one turn of the event loop: one batch, with a missing id and a repeated id in it.
  const read = await Promise.all([...ids, 'vid_missing', ids[3]!].map((id) => findTaskById(db, id)));
  expect(read.slice(0, 40).map((t) => t?.prompt)).toEqual(ids.map((_, i) => `task ${i}`));
  expect(read[40]).toBeNull();
  expect(read[41]?.id).toBe(ids[3]);

  const due = (i: number) => new Date(Date.UTC(2026, 5, 1, 0, 0, i));
  await Promise.all(ids.map((id, i) => recordPoll(db, id, { failed: i % 2 === 1, nextPollAt: due(i), progress: i })));
  const after = await Promise.all(ids.map((id) => findTaskById(db, id)));
  expect(after.map((t) => [t!.pollCount, t!.pollErrors, t!.progress, t!.nextPollAt!.getTime()])).toEqual(
    ids.map((_, i) => [i % 2 === 1 ? 0 : 1, i % 2 === 1 ? 1 : 0, i, due(i).getTime()]),
  );
});

describe('createTask: the creates of one turn, one statement per key, one budget rule', () => {
  const newTask = (apiKeyId: string, i: number, extra: Partial<NewReservedTask> = {}): NewReservedTask => ({
    ...tinyTask(`vid_batch${Date.now()}_${i}_${Math.random().toString(36).slice(2, 8)}`, apiKeyId),
    seed: BigInt(i),
    reservedMicros: 1000n,
    priceMicrosPerSecond: 250n,
    createdAt: new Date(),
    expiresAt: new Date(Date.now() + 86_400_000),
    ...extra,
  });
  const ledgerOf = (apiKeyId: string) => db.ledgerEntry.findMany({ where: { apiKeyId }, orderBy: { taskId: 'asc' } });
  const create = (d: NewReservedTask) => createTask(db, d, `led_${d.id}`);

  test('every create of an unlimited key is stored once, as Prisma reads it, with its reservation', async () => {
    const { key } = await createApiKey(db, { name: 'batch-unlimited' });
    const data = Array.from({ length: 12 }, (_, i) => newTask(key.id, i, i % 3 === 0 ? { metadata: { i } } : {}));
    const made = await Promise.all(data.map(create));
    for (const [i, outcome] of made.entries()) {
      expect(outcome.task).toEqual(videoOf(await db.task.findUniqueOrThrow({ where: { id: data[i]!.id } })));
    }
    expect(made.map((o) => o.task!.seed)).toEqual(data.map((d) => d.seed));
    const ledger = await ledgerOf(key.id);
    expect(ledger.map((e) => [e.taskId, e.kind, e.amountMicros])).toEqual(
      [...data].sort((a, b) => (a.id < b.id ? -1 : 1)).map((d) => [d.id, 'reserve', 1000n]),
    );
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).committedMicros).toBe(12_000n);
  });

  test('a budget takes creates in arrival order while they fit, and refuses the rest saying what is left', async () => {
    const { key } = await createApiKey(db, { name: 'batch-budget', budget_micros: 3500 });
    const data = Array.from({ length: 5 }, (_, i) => newTask(key.id, i));
    const made = await Promise.all(data.map(create));
    expect(made.map((o) => o.task?.id ?? o.refused)).toEqual([
      data[0]!.id,
      data[1]!.id,
      data[2]!.id,
      { reason: 'over_budget', reservedMicros: 1000n, leftMicros: 500n },
      { reason: 'over_budget', reservedMicros: 1000n, leftMicros: 500n },
    ]);
    expect(await db.task.count({ where: { apiKeyId: key.id } })).toBe(3);
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).committedMicros).toBe(3000n);
    expect(await ledgerOf(key.id)).toHaveLength(3);
    // A smaller create that fits is taken, even behind a refused one in the same turn.
    const [big, small] = await Promise.all([create(newTask(key.id, 5)), create(newTask(key.id, 6, { reservedMicros: 400n }))]);
    expect([big.refused?.reason, small.task?.apiKeyId]).toEqual(['over_budget', key.id]);
  });

  test('a queue-limited key counts its queue under the lock: the limit holds under concurrency', async () => {
    const limited = await createApiKey(db, { name: 'batch-queue-limit', max_queued: 3, budget_micros: 10_000 });
    const made = await Promise.all(Array.from({ length: 6 }, (_, i) => create(newTask(limited.key.id, i))));
    expect(made.filter((o) => o.task).length).toBe(3);
    expect(made.filter((o) => o.refused).map((o) => o.refused)).toEqual(Array(3).fill({ reason: 'queue_full', queued: 3, maxQueued: 3 }));
    expect(await db.task.count({ where: { apiKeyId: limited.key.id } })).toBe(3);
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: limited.key.id } })).committedMicros).toBe(3000n);
  });

  test('a revoked key creates nothing', async () => {
    const { key } = await createApiKey(db, { name: 'batch-revoked' });
    await revokeApiKey(db, key.id);
    expect((await create(newTask(key.id, 0))).refused).toEqual({ reason: 'inactive_key' });
    expect(await db.task.count({ where: { apiKeyId: key.id } })).toBe(0);
  });

  test('a duplicate Idempotency-Key fails only its own create; keys batch apart', async () => {
    const a = await createApiKey(db, { name: 'batch-dup' });
    const b = await createApiKey(db, { name: 'batch-other' });
    const dup = (i: number) => newTask(a.key.id, i, { idempotencyKey: 'same', requestHash: 'h' });
    const made = await Promise.allSettled([dup(1), dup(2), newTask(a.key.id, 3), newTask(b.key.id, 4)].map(create));
    expect(made.map((m) => m.status)).toEqual(expect.arrayContaining(['fulfilled', 'rejected']));
    const rejected = made.filter((m) => m.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(isIdempotencyKeyRace((rejected[0] as PromiseRejectedResult).reason)).toBe(true);
    expect(made[2]).toMatchObject({ status: 'fulfilled' });
    expect(await db.task.count({ where: { apiKeyId: a.key.id } })).toBe(2);
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: a.key.id } })).committedMicros).toBe(2000n);
    expect(await ledgerOf(a.key.id)).toHaveLength(2);
    expect((made[3] as PromiseFulfilledResult<{ task: { apiKeyId: string } }>).value.task.apiKeyId).toBe(b.key.id);
  });
});

describe('completeTask and failLiveTask: the end of a task, its money and its timeline in one statement', () => {
  const reserved = (apiKeyId: string, i: number): NewReservedTask => ({
    ...tinyTask(`vid_end${Date.now()}_${i}_${Math.random().toString(36).slice(2, 8)}`, apiKeyId),
    reservedMicros: 1000n,
    priceMicrosPerSecond: 250n,
    createdAt: new Date(),
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  const ledgerOf = async (taskId: string) =>
    (await db.ledgerEntry.findMany({ where: { taskId }, orderBy: { kind: 'asc' } })).map((e) => [e.kind, e.amountMicros]);
  const committed = async (keyId: string) => (await db.apiKey.findUniqueOrThrow({ where: { id: keyId } })).committedMicros;
  const processing = async (keyId: string, i: number) => {
    const d = reserved(keyId, i);
    await createTask(db, d, `led_${d.id}`);
    await db.task.update({ where: { id: d.id }, data: { status: 'processing', providerTarget: 'preview', upstreamId: `up_${i}` } });
    return d.id;
  };

  test('a completion charges what was produced (at most the reservation), once, and says so on the timeline', async () => {
    const { key } = await createApiKey(db, { name: 'end-complete' });
    const [short, unknown, long] = [await processing(key.id, 1), await processing(key.id, 2), await processing(key.id, 3)];
    expect(await committed(key.id)).toBe(3000n);
    // 1.0005 s at 250 micro-units a second: 250.125, rounded up.
    const end = await completeTask(db, short, { producedSeconds: 1.0005, upstreamCostUsd: 0.5 });
    expect(costForSeconds(250n, 1.0005)).toBe(251n);
    expect(end).toMatchObject({ status: 'completed', costMicros: 251n, apiKeyId: key.id, providerTarget: 'preview', pollCount: 1 });
    expect(await completeTask(db, unknown)).toMatchObject({ costMicros: 1000n });
    expect(await completeTask(db, long, { producedSeconds: 60 })).toMatchObject({ costMicros: 1000n });
    expect(await ledgerOf(short)).toEqual([
      ['reserve', 1000n],
      ['release', -1000n],
      ['charge', 251n],
    ]);
    expect(await committed(key.id)).toBe(2251n);
    const row = await db.task.findUniqueOrThrow({ where: { id: short } });
    expect([row.progress, row.billingStatus, row.producedSeconds, row.upstreamCostUsd]).toEqual([100, 'settled', 1.0005, 0.5]);
    // A replay, or a failure after the end, changes nothing.
    expect(await completeTask(db, short, { producedSeconds: 0 })).toBeNull();
    expect(await failLiveTask(db, short, 'cancelled', 'too late')).toBeNull();
    expect(await ledgerOf(short)).toHaveLength(3);
    expect(await committed(key.id)).toBe(2251n);
    const events = await db.taskEvent.findMany({ where: { taskId: short } });
    expect(events.map((e) => [e.kind, e.target, e.upstreamId, e.progress])).toEqual([['completed', 'preview', 'up_1', 100]]);
  });

  test('of a completion and a cancel racing on one task exactly one wins, and the money agrees with it', async () => {
    const { key } = await createApiKey(db, { name: 'end-race' });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => processing(key.id, i)));
    const results = await Promise.all(
      ids.flatMap((id) => [completeTask(db, id, { producedSeconds: 2 }), failLiveTask(db, id, 'cancelled', 'Cancelled by the client', 'owner')]),
    );
    for (const [i, id] of ids.entries()) {
      const [completed, cancelled] = [results[2 * i], results[2 * i + 1]];
      expect([completed, cancelled].filter((r) => r !== null)).toHaveLength(1);
      const t = await db.task.findUniqueOrThrow({ where: { id } });
      expect(t.status).toBe(completed ? 'completed' : 'failed');
      expect(await ledgerOf(id)).toEqual(
        completed
          ? [
              ['reserve', 1000n],
              ['release', -1000n],
              ['charge', 500n],
            ]
          : [
              ['reserve', 1000n],
              ['release', -1000n],
            ],
      );
      const kinds = (await db.taskEvent.findMany({ where: { taskId: id } })).map((e) => [e.kind, e.actor]);
      expect(kinds).toEqual([completed ? ['completed', null] : ['cancelled', 'owner']]);
    }
    const wins = results.filter((r, i) => i % 2 === 0 && r !== null).length;
    expect(await committed(key.id)).toBe(BigInt(wins) * 500n);
  });

  test('a failure releases the reservation of a pending or a processing task and records code and message', async () => {
    const { key } = await createApiKey(db, { name: 'end-fail' });
    const pending = reserved(key.id, 0);
    await createTask(db, pending, `led_${pending.id}`);
    const running = await processing(key.id, 1);
    expect(await failLiveTask(db, pending.id, 'upstream_error', 'x'.repeat(3000))).toMatchObject({ status: 'failed', errorCode: 'upstream_error' });
    expect(await failLiveTask(db, running, 'timeout', 'too slow')).toMatchObject({ status: 'failed', costMicros: null });
    const row = await db.task.findUniqueOrThrow({ where: { id: pending.id } });
    expect([row.errorMessage!.length, row.billingStatus, row.completedAt !== null]).toEqual([2000, 'released', true]);
    expect(await ledgerOf(running)).toEqual([
      ['reserve', 1000n],
      ['release', -1000n],
    ]);
    expect(await committed(key.id)).toBe(0n);
    expect((await db.taskEvent.findMany({ where: { taskId: running } })).map((e) => [e.kind, e.code, e.message])).toEqual([['failed', 'timeout', 'too slow']]);
  });
});

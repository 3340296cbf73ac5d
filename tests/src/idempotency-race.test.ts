import { http, solidPng } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// With a worker: it admits a new task the moment its create is announced, and that update of the
// winner's row is what a losing create with the same key used to deadlock with (40P01 → 500).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ LOG_LEVEL: 'fatal' });
});
afterAll(async () => {
  await stack.close();
});

test('20 concurrent creates with one Idempotency-Key and different bodies: one task, 409 for the others, never a 5xx', async () => {
  for (let round = 0; round < 5; round++) {
    const k = `race-${process.pid}-${Date.now()}-${round}`;
    // Every other round with an input image, whose decode makes each create slower and the race wider.
    const image = round % 2 ? { image: `data:image/png;base64,${solidPng('red', 16).toString('base64')}` } : {};
    const bodies = Array.from({ length: 20 }, (_, i) => ({ prompt: `racing cat ${round}.${i}`, duration: 1, width: 64, height: 64, fps: 24, ...image }));
    const started = Date.now();
    const results = await Promise.all(bodies.map((json) => http(stack, 'POST', '/v1/videos', { key: stack.key, json, headers: { 'idempotency-key': k } })));
    const statuses = results.map((r) => r.status).sort();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(statuses).toEqual([200, ...Array(19).fill(409)]);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error).toMatchObject({ code: 'idempotency_conflict', param: 'Idempotency-Key' });
    const winner = results.find((r) => r.status === 200)!;
    const rows = await stack.db.task.findMany({ where: { idempotencyKey: k } });
    expect(rows.map((t) => [t.id, t.prompt])).toEqual([[winner.body.id, winner.body.prompt]]);
    // Reserved once: the losers left no ledger rows behind.
    expect(await stack.db.ledgerEntry.count({ where: { taskId: winner.body.id, kind: 'reserve' } })).toBe(1);
    // Its own body still replays it.
    const replay = await http(stack, 'POST', '/v1/videos', {
      key: stack.key,
      json: bodies.find((b) => b.prompt === winner.body.prompt),
      headers: { 'idempotency-key': k },
    });
    expect([replay.status, replay.body.id]).toEqual([200, winner.body.id]);
  }
});

import { registry } from '@reelay/observability';
import { ADMIN_TOKEN, OpenAIVideosEmulator, adminKey, createVideo, until, writeEmulatorCatalog } from '@reelay/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from './harness';

jest.setTimeout(60_000);

/**
 * Slots freed by a batch's tasks share admission runs. A batch of instant upstream tasks ends
 * dozens of tasks a second, and with one admission transaction per ended task admission ran back
 * to back for the whole batch: every interactive create's run queued behind one. A slot freed by an
 * interactive task still asks for a run at once.
 */
let stack: Stack;
let upstream: OpenAIVideosEmulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-admission-runs-'));
  // Upstream tasks that outlast the test: the key's one slot stays taken and its other tasks wait.
  upstream = new OpenAIVideosEmulator({ apiKey: 'sk-slow', behaviour: { taskMs: 10 * 60_000, queuedMs: 0 } });
  await upstream.start();
  const catalog = writeEmulatorCatalog(dir, 'slow', upstream);
  stack = await startStack({ REELAY_ADMIN_TOKEN: ADMIN_TOKEN, REELAY_MODELS_FILE: catalog, UPSTREAM_KEY: 'sk-slow', WORKER_ADMISSION_INTERVAL_MS: '60000' });
});

afterAll(async () => {
  await stack?.close();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Admission runs of this process so far. */
async function runs(): Promise<number> {
  const text = await registry.getSingleMetricAsString('reelay_admission_run_seconds');
  return Number(/^reelay_admission_run_seconds_count (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Admission runs caused by 20 freed slots reported 10 ms apart. */
async function runsFor(byBatch: boolean): Promise<number> {
  const before = await runs();
  for (let i = 0; i < 20; i++) {
    stack.worker!.ctx.wakeAdmission!(byBatch);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 300)); // the last ones' runs
  return (await runs()) - before;
}

test('slots freed by batch tasks over 200 ms share a few admission runs; an interactive one asks for its own', async () => {
  const key = await adminKey(stack, { max_concurrent: 1 });
  const first = await createVideo(stack, key.secret, { model: 'slow', prompt: 'holds the slot' });
  await until('the first task to be submitted', async () => (await stack.db.task.findUnique({ where: { id: first.id } }))?.status === 'processing');
  // Left waiting: the last run saw a backlog, so a freed slot is worth a run.
  const waiting = await createVideo(stack, key.secret, { model: 'slow', prompt: 'waits for the slot' });
  await until(
    'a run to leave it waiting',
    async () => (await runs()) > 0 && (await stack.db.task.findUnique({ where: { id: waiting.id } }))?.admittedAt === null,
  );
  await new Promise((r) => setTimeout(r, 200));

  const batchRuns = await runsFor(true);
  expect(batchRuns).toBeGreaterThanOrEqual(1);
  expect(batchRuns).toBeLessThanOrEqual(5); // one per 100 ms at most, not one per slot
  const interactiveRuns = await runsFor(false);
  expect(interactiveRuns).toBeGreaterThan(batchRuns);
});

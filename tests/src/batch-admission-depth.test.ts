import OpenAI, { toFile } from 'openai';
import { until, writeTestCatalog } from '@reelay/testing';
import { cancelBatchIfRunning, startStack, type Stack } from './harness';

/**
 * While interactive work is about, batch steps keep to a short queue of their own
 * (WORKER_ADMISSION_BATCH_DEPTH), well inside the queue's depth: a worker whose queue always holds
 * a batch step keeps every slot busy with them, and an interactive create then waits for a slot.
 * Interactive creates are not held by it, and a batch running alone gets the whole queue.
 */
const BATCH_DEPTH = 2;
const QUEUE_DEPTH = 50;
const CONCURRENCY = 1;
const LINES = 40;
let stack: Stack;
let openai: OpenAI;

beforeAll(async () => {
  stack = await startStack({
    REELAY_MODELS_FILE: writeTestCatalog(),
    WORKER_ADMISSION_QUEUE_DEPTH: String(QUEUE_DEPTH),
    WORKER_ADMISSION_BATCH_DEPTH: String(BATCH_DEPTH),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WORKER_ADMISSION_INTERVAL_MS: '100',
    WORKER_BATCH_CHECK_MS: '200',
  });
  openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: stack.key, maxRetries: 0, timeout: 30_000 });
});
afterAll(async () => {
  await stack.close();
});

const tiny = { model: 'tiny', seconds: '1', size: '64x64' } as const;

async function startBatch(tag: string): Promise<string> {
  const text =
    Array.from({ length: LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `${tag}${i}`,
        method: 'POST',
        url: '/v1/videos',
        body: { model: 'tiny', prompt: `${tag} ${i}`, duration: 1, width: 64, height: 64, fps: 10 },
      }),
    ).join('\n') + '\n';
  const file = await openai.files.create({ file: await toFile(Buffer.from(text), `${tag}.jsonl`), purpose: 'batch' });
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
  await until('the batch tasks', async () => (await stack.db.task.count({ where: { batchId: batch.id } })) === LINES);
  return batch.id;
}

/** The most of a batch's tasks seen admitted but not yet started, over `ms`. */
async function peakQueued(batchId: string, ms: number, meanwhile?: () => Promise<void>): Promise<number> {
  let peak = 0;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const queued = await stack.db.task.count({ where: { batchId, admittedAt: { not: null }, startedAt: null, status: 'pending' } });
    peak = Math.max(peak, queued);
    await meanwhile?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return peak;
}

test('a batch running alone gets the whole queue', async () => {
  const batchId = await startBatch('alone');
  expect(await peakQueued(batchId, 2000)).toBeGreaterThan(BATCH_DEPTH + CONCURRENCY);
  await cancelBatchIfRunning(openai, batchId);
});

test('after an interactive create, a 40-line batch keeps at most its own depth of steps queued, and interactive creates are admitted past it', async () => {
  const first = await openai.videos.create({ ...tiny, prompt: 'interactive first' } as never);
  await until('the first interactive task admitted', () => stack.db.task.findUnique({ where: { id: first.id } }).then((t) => Boolean(t?.admittedAt)));
  const batchId = await startBatch('after');
  const started = Date.now();
  let interactive: { id: string } | undefined;
  const peak = await peakQueued(batchId, 3000, async () => {
    if (!interactive && Date.now() - started > 1000) interactive = await openai.videos.create({ ...tiny, prompt: 'interactive' } as never);
  });
  // The queue depth alone (50) would have let every one of the 40 lines in, as it does above.
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThanOrEqual(BATCH_DEPTH + CONCURRENCY);
  const row = await until('the interactive task admitted', () =>
    stack.db.task.findUnique({ where: { id: interactive!.id } }).then((t) => (t?.admittedAt ? t : null)),
  );
  // Batch tasks created before it that were still waiting when it was admitted (read now, a batch of
  // tiny renders may be done by then: those admitted after it count too).
  const stillWaiting = await stack.db.task.count({
    where: { batchId, createdAt: { lt: row.admittedAt! }, OR: [{ admittedAt: null }, { admittedAt: { gt: row.admittedAt! } }] },
  });
  expect(stillWaiting).toBeGreaterThan(0);
  await cancelBatchIfRunning(openai, batchId);
});

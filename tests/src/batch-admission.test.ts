import OpenAI, { toFile } from 'openai';
import { until, writeTestCatalog } from '@reelay/testing';
import { cancelBatchIfRunning, startStack, type Stack } from './harness';

/**
 * A batch is admitted a queue's depth at a time, like interactive work: its jobs are prioritised
 * (BullMQ's 'prioritized' set, not 'waiting'), and the depth guard counts them too, so a big batch
 * never puts all its submits in the queue at once (where every poll would wait behind them).
 */
const DEPTH = 3;
const CONCURRENCY = 1;
const LINES = 40;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    REELAY_MODELS_FILE: writeTestCatalog(),
    WORKER_ADMISSION_QUEUE_DEPTH: String(DEPTH),
    // Out of the way: this file is about the queue depth (batch-admission-depth.test.ts has the batch's own).
    WORKER_ADMISSION_BATCH_DEPTH: '1000',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WORKER_ADMISSION_INTERVAL_MS: '100',
    WORKER_BATCH_CHECK_MS: '200',
  });
});
afterAll(async () => {
  await stack.close();
});

test('a batch of 40 lines never has more admitted-but-not-started tasks than the queue depth plus the worker concurrency', async () => {
  const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: stack.key, maxRetries: 0, timeout: 30_000 });
  const text =
    Array.from({ length: LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `q${i}`,
        method: 'POST',
        url: '/v1/videos',
        body: { model: 'tiny', prompt: `q ${i}`, duration: 1, width: 64, height: 64, fps: 10 },
      }),
    ).join('\n') + '\n';
  const file = await openai.files.create({ file: await toFile(Buffer.from(text), 'q.jsonl'), purpose: 'batch' });
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/videos', completion_window: '24h' });
  await until('the batch tasks', async () => (await stack.db.task.count({ where: { batchId: batch.id } })) === LINES);
  let peak = 0;
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const waiting = await stack.db.task.count({ where: { batchId: batch.id, admittedAt: { not: null }, startedAt: null, status: 'pending' } });
    peak = Math.max(peak, waiting);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThanOrEqual(DEPTH + CONCURRENCY);
  await cancelBatchIfRunning(openai, batch.id);
});

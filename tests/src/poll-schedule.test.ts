import { createRedis } from '@reelay/queue';
import { OpenAIVideosEmulator, createVideo, until, writeEmulatorCatalog } from '@reelay/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from './harness';

jest.setTimeout(60_000);

let stack: Stack;
let openai: OpenAIVideosEmulator;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reelay-poll-schedule-'));
  // An upstream task that runs far longer than the test: the task is polled again and again.
  openai = new OpenAIVideosEmulator({ apiKey: 'sk-slow', behaviour: { taskMs: 10 * 60_000, queuedMs: 0 } });
  await openai.start();
  const catalog = writeEmulatorCatalog(dir, 'slow', openai);
  stack = await startStack({ REELAY_MODELS_FILE: catalog, UPSTREAM_KEY: 'sk-slow', POLL_FIRST_MS: '100', POLL_MIN_MS: '300', POLL_MAX_MS: '300' });
});

afterAll(async () => {
  await stack?.close();
  await openai?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a polled task's job is due exactly when its recorded next_poll_at says, not later by the step's own writes", async () => {
  const created = await createVideo(stack, stack.key, { model: 'slow', prompt: 'a long upstream task' });
  const queue = stack.api.deps.tasksQueue;
  const redis = createRedis(stack.config.REDIS_URL, 'worker');
  const seen = new Set<number>();
  // Each poll re-delays the job; compare the two clocks after several of them.
  await until(
    'three polls compared',
    async () => {
      const task = await stack.db.task.findUnique({ where: { id: created.id } });
      const score = await redis.zscore(queue.toKey('delayed'), created.id);
      if (!task?.nextPollAt || score === null) return false;
      // BullMQ keeps the due time in milliseconds times 4096 (plus a counter below that).
      const dueAt = Math.floor(Number(score) / 0x1000);
      if (dueAt !== task.nextPollAt.getTime()) {
        // Read between the job's move and the row's write of the next poll: look again.
        const again = await stack.db.task.findUnique({ where: { id: created.id } });
        if (again?.pollCount === task.pollCount) expect(dueAt - task.nextPollAt.getTime()).toBe(0);
        return false;
      }
      seen.add(task.pollCount);
      return seen.size >= 3;
    },
    30_000,
    20,
  ).finally(() => redis.quit());
});

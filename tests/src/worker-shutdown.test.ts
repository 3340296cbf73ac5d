import { createVideo, http, spawnWorker, until, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * SIGTERM to a worker process holding a task mid-render: it stops taking jobs, finishes what it
 * holds, closes its connections in order and exits 0 within its grace period; the next worker
 * completes the task, with exactly one set of outputs.
 */
const GRACE_MS = 10_000;
let stack: Stack;

/** A worker process with its logs kept; its ops listener takes any free port, read back from its "worker started" line. */
const worker = () =>
  spawnWorker(stack, {
    WORKER_LOCK_MS: '5000',
    // Every test stack shares one database; this worker must not adopt other stacks' quiet tasks.
    WORKER_RECONCILE_INTERVAL_MS: '0',
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    LOG_LEVEL: 'info',
  });

beforeAll(async () => {
  stack = await startStack({}, { worker: false });
});
afterAll(async () => {
  await stack.close();
});

test('SIGTERM mid-task: the worker exits 0 within its grace period, the next worker completes the task, no job is lost', async () => {
  // Long enough that the render is still running when the worker is told to stop (an 8 s clip
  // rendered in 2 s on a quiet machine, before any poll saw it under way).
  const { id } = await createVideo(stack, stack.key, { prompt: 'graceful shutdown', duration: 30, width: 640, height: 360, fps: 30 });

  const first = worker();
  await until('the render to be under way', async () => {
    const r = await http(stack, 'GET', `/v1/videos/${id}`, { key: stack.key });
    if (first.child.exitCode !== null) throw new Error(`worker exited early: ${first.output()}`);
    if (r.body.status === 'completed') throw new Error('the render finished before the test could interrupt it');
    return r.body.status === 'processing' && r.body.progress > 0;
  }).catch((err: Error) => {
    throw new Error(`${err.message}\nworker output:\n${first.output()}`);
  });
  // The worker process serves its own metrics and probes.
  const opsUrl = (await first.waitFor(/"ops":"(http:\/\/[^"]+)"[^\n]*"msg":"worker started"/))[1]!;
  const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
  expect(metrics).toMatch(/^reelay_upstream_request_duration_seconds_count\{provider="preview",operation="submit",outcome="ok"\} [1-9]\d*$/m);
  expect((await fetch(`${opsUrl}/readyz`)).status).toBe(200);

  const stoppedAt = Date.now();
  const result = await first.stop('SIGTERM');
  const tookMs = Date.now() - stoppedAt;
  process.stdout.write(`worker exited ${JSON.stringify(result)} ${tookMs} ms after SIGTERM (grace ${GRACE_MS} ms)\n`);
  expect(result).toEqual({ code: 0, signal: null });
  expect(tookMs).toBeLessThan(GRACE_MS);
  const logs = first
    .output()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string });
  expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['worker started', 'finishing held jobs', 'stopped']));

  // The task's job is still in Redis (delayed or waiting), not lost with the process.
  const job = await stack.api.deps.tasksQueue.getJob(id);
  expect(job).toBeDefined();
  expect(['delayed', 'waiting', 'wait', 'prioritized']).toContain(await job!.getState());
  const mid = await stack.db.task.findUniqueOrThrow({ where: { id } });
  expect(mid.status).toBe('processing');

  const next = worker();
  try {
    const { video } = await waitForVideo(stack, stack.key, id, 120_000);
    expect(video.status).toBe('completed');
    // The images are stored right after the completion is announced.
    const outputs = await until('the images', async () => {
      const rows = await stack.db.taskOutput.findMany({ where: { taskId: id } });
      return rows.length >= 3 ? rows : null;
    });
    expect(outputs.map((o) => `${o.index}:${o.variant}`).sort()).toEqual(['0:spritesheet', '0:thumbnail', '0:video']);
  } finally {
    expect(await next.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }
});

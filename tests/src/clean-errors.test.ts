import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerRuntime } from '@reelay/worker';
import { capturingLogger, http, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

// A renderer's or upstream's raw output never reaches the client: a failed task carries a code
// and a short message; the raw text is in the worker's log.
let stack: Stack;
let worker: WorkerRuntime;
const log = capturingLogger('warn');
const STDERR = '[libx264 @ 0x55d5c0ffee00] /srv/reelay/secret-path/out-0.tmp.mp4: Invalid argument\u001b[0m';

beforeAll(async () => {
  // An ffmpeg that fails the way a real one does: a stderr line with an address, a path and a colour code.
  const dir = mkdtempSync(join(tmpdir(), 'reelay-fake-ffmpeg-'));
  const fake = join(dir, 'ffmpeg');
  writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' '${STDERR}' >&2\nexit 1\n`);
  chmodSync(fake, 0o755);
  stack = await startStack({}, { worker: false });
  worker = await startWorker({ ...stack.config, FFMPEG_PATH: fake }, { logger: log.logger, opsServer: false });
});
afterAll(async () => {
  await worker.close();
  await stack.close();
});

test("a render that fails tells the client it failed, and only the log shows ffmpeg's stderr", async () => {
  const created = await http(stack, 'POST', '/v1/videos', { key: stack.key, json: { prompt: 'doomed', duration: 1, width: 64, height: 64, fps: 24 } });
  expect(created.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, created.body.id, 60_000);
  expect(video.status).toBe('failed');
  expect(video.error).toEqual({ code: 'upstream_error', message: 'Preview render failed (ffmpeg exit 1)' });
  const line = log.lines.map((l) => JSON.parse(l)).find((l) => l.taskId === created.body.id && l.msg === 'task failed');
  expect(line?.detail).toContain('/srv/reelay/secret-path/out-0.tmp.mp4: Invalid argument');
});

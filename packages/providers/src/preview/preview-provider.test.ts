import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJpeg, probe, solidPng, submitRequest, until } from '@reelay/testing';
import type { PollResult, SubmitRequest } from '../provider';
import { PreviewProvider } from './preview-provider';

const ffmpegPath = process.env.FFMPEG_PATH ?? 'ffmpeg';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'preview-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  submitRequest({
    taskId: `vid_${Math.random().toString(36).slice(2)}`,
    idempotencyKey: 'k',
    durationSeconds: 1,
    width: 160,
    height: 96,
    fps: 12,
    seed: 42,
    ...over,
  });

async function render(p: PreviewProvider, req: SubmitRequest): Promise<{ result: PollResult; progress: number[] }> {
  const { upstreamId } = await p.submit(req);
  const progress: number[] = [];
  const result = await until(
    `render ${upstreamId} to end`,
    async () => {
      const r = await p.poll(upstreamId);
      if (r.state === 'running' && r.progress !== undefined) progress.push(r.progress);
      return r.state === 'succeeded' || r.state === 'failed' ? r : null;
    },
    30_000,
    50,
  );
  return { result, progress };
}

function videoBytes(result: PollResult, index = 0): Buffer {
  if (result.state !== 'succeeded') throw new Error(`render ${result.state}: ${JSON.stringify(result)}`);
  const ref = result.outputs[index]!.video;
  if (ref.kind !== 'file') throw new Error('expected a file');
  return readFileSync(ref.path);
}

function frameMd5s(video: Buffer): string[] {
  const f = join(dir, `probe-${Math.random()}.mp4`);
  writeFileSync(f, video);
  return execFileSync(ffmpegPath, ['-v', 'error', '-i', f, '-f', 'framemd5', '-'])
    .toString()
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').pop()!.trim());
}

test('same seed and prompt give the same bytes; another seed or prompt gives other bytes', async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const a = videoBytes((await render(p, request())).result);
  const b = videoBytes((await render(p, request())).result);
  const otherSeed = videoBytes((await render(p, request({ seed: 43 }))).result);
  const otherPrompt = videoBytes((await render(p, request({ prompt: 'A lighthouse at dawn' }))).result);
  expect(a.equals(b)).toBe(true);
  expect(a.equals(otherSeed)).toBe(false);
  expect(a.equals(otherPrompt)).toBe(false);
});

test('n outputs are distinct videos with exactly duration x fps frames each', async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const { result } = await render(p, request({ n: 2, durationSeconds: 1.5, fps: 10 }));
  const first = videoBytes(result, 0);
  const second = videoBytes(result, 1);
  expect(first.equals(second)).toBe(false);
  expect(frameMd5s(first)).toHaveLength(15);
  expect(frameMd5s(second)).toHaveLength(15);
});

test("the render makes each output's thumbnail and spritesheet itself: small clips, a one-frame clip and a clip too big to make them in the video's process", async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  for (const shape of [
    { n: 2, durationSeconds: 2, fps: 12 },
    { n: 1, durationSeconds: 0.1, fps: 10 },
    { n: 1, durationSeconds: 4, fps: 24, width: 480, height: 270 }, // 19 MB of raw frames
  ]) {
    const { result } = await render(p, request(shape));
    if (result.state !== 'succeeded') throw new Error(`render ${result.state}`);
    for (const out of result.outputs) {
      for (const ref of [out.thumbnail, out.spritesheet]) {
        if (ref?.kind !== 'file') throw new Error(`output ${out.index} has no image made by the render`);
        expect(isJpeg(readFileSync(ref.path))).toBe(true);
      }
      // 5 frames of 160 px across: the sheet is 800 px wide; the thumbnail keeps the video's size.
      expect(probe(readFileSync((out.spritesheet as { path: string }).path)).width).toBe(800);
      expect(probe(readFileSync((out.thumbnail as { path: string }).path)).width).toBe(shape.width ?? 160);
    }
  }
});

test('an input image is animated: frames change over the clip', async () => {
  const image = join(dir, 'in.png');
  execFileSync(ffmpegPath, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x240', '-frames:v', '1', image]);
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const { result } = await render(p, request({ imagePath: image, imageMime: 'image/png', prompt: null, durationSeconds: 2 }));
  const md5s = frameMd5s(videoBytes(result));
  expect(md5s).toHaveLength(24);
  expect(new Set(md5s).size).toBeGreaterThan(12);
});

test('a render beyond the slot count waits as queued; cancel stops a running render', async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 });
  const long = request({ durationSeconds: 6, width: 640, height: 360, fps: 30 });
  const { upstreamId: first } = await p.submit(long);
  expect((await p.poll(first)).state).toBe('running');
  const { upstreamId: second } = await p.submit(request());
  expect((await p.poll(second)).state).toBe('queued');
  await p.cancel(first);
  expect(await p.poll(first)).toMatchObject({ state: 'failed', code: 'cancelled' });
});

test('a slot that frees starts the oldest queued render at once, without waiting for its poll', async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 });
  const woken: string[] = [];
  p.onTaskChange((taskId) => woken.push(taskId));
  const first = request();
  const second = request();
  const { upstreamId: firstId } = await p.submit(first);
  const { upstreamId: secondId } = await p.submit(second);
  expect((await p.poll(secondId)).state).toBe('queued');
  // No poll of the second task from here on: the first render's exit alone must start it.
  await until('the first render to end', async () => (woken.includes(first.taskId) ? true : null), 30_000, 20);
  expect(woken).toContain(second.taskId);
  expect(Number(readFileSync(join(dir, secondId, 'pid'), 'utf8'))).toBeGreaterThan(0);
  await until('the second render to end', async () => (woken.filter((id) => id === second.taskId).length >= 2 ? true : null), 30_000, 20);
  expect(readFileSync(join(dir, secondId, 'exit'), 'utf8').trim()).toBe('0');
  expect((await p.poll(firstId)).state).toBe('succeeded');
  expect((await p.poll(secondId)).state).toBe('succeeded');
});

/** Submits the requests to `p` and polls each one whenever `p` wakes its task (as the worker does), until all have ended. */
async function renderQueued(p: PreviewProvider, reqs: SubmitRequest[]): Promise<Map<string, PollResult>> {
  const ids = new Map<string, string>(); // task id → upstream id
  const ended = new Map<string, PollResult>();
  const pollTask = async (taskId: string) => {
    const r = await p.poll(ids.get(taskId)!);
    if (r.state === 'succeeded' || r.state === 'failed') ended.set(taskId, r);
  };
  p.onTaskChange((taskId) => void pollTask(taskId));
  for (const req of reqs) ids.set(req.taskId, (await p.submit(req)).upstreamId);
  await until('every render to end', async () => (ended.size === reqs.length ? true : null), 60_000, 20);
  return ended;
}

test('renders queued behind a busy slot share one ffmpeg process, with the bytes each would have alone', async () => {
  const tiny = (i: number) => request({ seed: 100 + i, prompt: `queued ${i} %{eif:1:d}`, width: 64, height: 64, fps: 10 });
  const queued = Array.from({ length: 6 }, (_, i) => tiny(i));
  const ended = await renderQueued(new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 }), queued);
  // The first started alone at its submit; the five queued behind it ran as one group.
  const groups = queued.filter((r) => existsSync(join(dir, `preview_${r.taskId.replace(/[^A-Za-z0-9_]/g, '')}`, 'group.sh')));
  expect(groups).toHaveLength(1);
  const alone = new PreviewProvider({ ffmpegPath, workDir: mkdtempSync(join(tmpdir(), 'preview-alone-')), slots: 1 });
  for (const [i, req] of queued.entries()) {
    const result = ended.get(req.taskId)!;
    if (result.state !== 'succeeded') throw new Error(`render ${i} ${result.state}`);
    const own = (await render(alone, tiny(i))).result;
    expect(videoBytes(result).equals(videoBytes(own))).toBe(true);
    for (const image of ['thumbnail', 'spritesheet'] as const) {
      const ref = result.outputs[0]![image];
      if (ref?.kind !== 'file') throw new Error(`render ${i} has no ${image}`);
      expect(isJpeg(readFileSync(ref.path))).toBe(true);
    }
  }
});

test('a group render that fails leaves each member to render on its own', async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 });
  const tiny = (i: number) => request({ seed: 200 + i, width: 64, height: 64, fps: 10 });
  const reqs = [request({ durationSeconds: 2, width: 320, height: 180, fps: 24 }), tiny(1), tiny(2), tiny(3)];
  const folder = (r: SubmitRequest) => join(dir, `preview_${r.taskId.replace(/[^A-Za-z0-9_]/g, '')}`);
  const ended = renderQueued(p, reqs);
  // One member's prompt file is gone by the time the group starts: the group's ffmpeg fails at once.
  await until('the queued renders to be submitted', async () => (reqs.every((r) => existsSync(join(folder(r), 'spec.json'))) ? true : null), 10_000, 5);
  rmSync(join(folder(reqs[2]!), 'prompt-0.txt'));
  const results = await ended;
  expect(existsSync(join(folder(reqs[1]!), 'group.sh'))).toBe(true);
  for (const member of [reqs[1]!, reqs[3]!]) {
    expect(results.get(member.taskId)!.state).toBe('succeeded');
    expect(readFileSync(join(folder(member), 'restarts'), 'utf8')).toBe('1'); // found dead once, then rendered alone
  }
  expect(results.get(reqs[2]!.taskId)).toMatchObject({ state: 'failed', code: 'upstream_error' });
});

test("a group's files are kept by the next poll when the process that started it died before keeping them", async () => {
  const a = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 });
  const tiny = (i: number) => request({ seed: 300 + i, width: 64, height: 64, fps: 10 });
  const reqs = [tiny(0), tiny(1), tiny(2)];
  await renderQueued(a, reqs);
  // As the group left it had its worker died at its end: the marks and .tmp files, no exit.
  const member = `preview_${reqs[2]!.taskId.replace(/[^A-Za-z0-9_]/g, '')}`;
  for (const [done, tmp] of [
    ['out-0.mp4', 'out-0.tmp.mp4'],
    ['thumb-0.jpg', 'thumb-0.tmp.jpg'],
    ['sprite-0.jpg', 'sprite-0.tmp.jpg'],
  ])
    renameSync(join(dir, member, done!), join(dir, member, tmp!));
  rmSync(join(dir, member, 'exit'));
  writeFileSync(join(dir, member, 'grouped'), '0\n');
  const b = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 }); // the worker that polls it next
  const result = await b.poll(member);
  expect(result.state).toBe('succeeded');
  expect(existsSync(join(dir, member, 'restarts'))).toBe(false);
});

test('slots are shared by the processes of one machine; a render killed with its worker frees its slot', async () => {
  const a = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 });
  const b = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 1 }); // another worker process on the machine
  const { upstreamId: first } = await a.submit(request({ durationSeconds: 6, width: 640, height: 360, fps: 30 }));
  const { upstreamId: second } = await b.submit(request());
  expect((await b.poll(second)).state).toBe('queued'); // b sees a's render holding the one slot
  // The render dies without an outcome, as when its machine's processes are killed.
  process.kill(-Number(readFileSync(join(dir, first, 'pid'), 'utf8')), 'SIGKILL');
  await until('the slot to be free for b', async () => ((await b.poll(second)).state === 'running' ? true : null), 10_000, 50);
  const { result } = await render(b, request({ taskId: second.replace(/^preview_/, '') }));
  expect(result.state).toBe('succeeded');
});

test('a submit retried after a crash finds the same render instead of starting another', async () => {
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const req = request();
  const a = await p.submit(req);
  const b = await p.submit(req);
  expect(a.upstreamId).toBe(b.upstreamId);
  const { progress, result } = await render(p, req);
  expect(result.state).toBe('succeeded');
  expect(progress).toEqual([...progress].sort((x, y) => x - y));
});

test('prompt text is drawn literally: drawtext never evaluates %{…} in it', async () => {
  // Over an image the background does not depend on the prompt, so equal frames mean equal text.
  const image = join(dir, 'in.png');
  writeFileSync(image, solidPng('navy', 160, 96));
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const withImage = (prompt: string) => request({ prompt, imagePath: image, imageMime: 'image/png', durationSeconds: 0.5 });
  // Evaluated, "%{e:1+1}" would render exactly as the text "2.000000".
  const expression = frameMd5s(videoBytes((await render(p, withImage('%{e:1+1}'))).result));
  const itsValue = frameMd5s(videoBytes((await render(p, withImage('2.000000'))).result));
  expect(expression).not.toEqual(itsValue);
  // An endless expression, drawtext's own escapes and text of every direction render and finish.
  const hostile = `%{e:while(1,1)} %{pts} it's a:b \\ back\\slash\nnew line שלום عالم 🎬 %{localtime}`;
  const { result } = await render(p, request({ prompt: hostile, durationSeconds: 0.5 }));
  expect(frameMd5s(videoBytes(result))).toHaveLength(6);
});

test('edit and extend render from the source: an edit keeps its frames count, an extension adds seconds; hostile prompts stay text', async () => {
  const source = join(dir, 'source.mp4');
  execFileSync(ffmpegPath, ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x96:rate=12', '-t', '1', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', source]);
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const prompt = `%{e:while(1,1)} it's a:b; [x] \\ %{localtime}`;
  const edit = await render(p, request({ operation: 'edit', prompt, sourceVideoPath: source, sourceSeconds: 1 }));
  expect(frameMd5s(videoBytes(edit.result))).toHaveLength(12);
  expect(edit.result).toMatchObject({ producedSeconds: 1 });
  const extend = await render(p, request({ operation: 'extend', prompt, durationSeconds: 1.5, sourceVideoPath: source, sourceSeconds: 1 }));
  const frames = frameMd5s(videoBytes(extend.result));
  expect(frames).toHaveLength(18);
  expect(extend.result).toMatchObject({ producedSeconds: 0.5 });
  // The edit is not the source: its first frame differs.
  expect(frameMd5s(videoBytes(edit.result))[0]).not.toBe(frameMd5s(readFileSync(source))[0]);
  await expect(p.submit(request({ operation: 'edit', sourceVideoPath: null }))).rejects.toThrow(/source video/);
});

test('cast characters are named in the caption: same request with a character renders other frames', async () => {
  const image = join(dir, 'in.png');
  writeFileSync(image, solidPng('navy', 160, 96));
  const p = new PreviewProvider({ ffmpegPath, workDir: dir, slots: 2 });
  const base = { prompt: 'a walk', imagePath: image, imageMime: 'image/png', durationSeconds: 0.5 };
  const plain = frameMd5s(videoBytes((await render(p, request(base))).result));
  const cast = frameMd5s(
    videoBytes((await render(p, request({ ...base, characters: [{ id: 'char_x', name: "Captain %{pts} O'Kite", videoPath: image }] }))).result),
  );
  expect(cast).toHaveLength(plain.length);
  expect(cast).not.toEqual(plain);
});

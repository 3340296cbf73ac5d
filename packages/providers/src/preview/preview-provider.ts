import { spawn } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { OutputRef, PollResult, Provider, SubmitAnswer, SubmitRequest } from '../provider';
import { PermanentProviderError } from '../errors';
import { frameCount, joinsGroup, planGroup, planImages, planOutput, sourceFrameCount, type RenderSpec } from './render-plan';

export interface PreviewOptions {
  ffmpegPath: string;
  /** Working folder for renders; shared by every worker process on the machine. */
  workDir: string;
  /** Renders running at once on this machine; further tasks wait as "queued". */
  slots: number;
  fontFile?: string | null;
  /** A render whose process died is restarted this many times before the task fails. */
  maxRestarts?: number;
  /**
   * How often a task queued for a slot is polled anyway. A slot that frees in this process wakes
   * the next queued task at once; this poll covers slots freed by another process on the machine.
   */
  queuedPollMs?: number;
}

/** spec.json: the render, and the task it is for (renders ending wake that task). */
type StoredSpec = RenderSpec & { taskId?: string };

/** A render about to start: its upstream id, folder and spec. */
interface QueuedRender {
  upstreamId: string;
  dir: string;
  spec: StoredSpec;
}

/** Most renders one ffmpeg process makes together (see renderEnded). */
const GROUP_MAX = 8;
/** The script of a group render, in its first member's folder. */
const GROUP_SCRIPT = 'group.sh';

const DEFAULT_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The built-in provider: renders real H.264 MP4s with ffmpeg, offline. It behaves like a remote
 * upstream: submit records the job and starts it when a render slot is free (else a later poll
 * does), poll reports progress from ffmpeg's -progress output. Renders run as detached processes
 * that write their results atomically, so a worker that dies mid-render loses nothing: the render
 * finishes on its own, or (if it died too) the next poll restarts it, keeping outputs already
 * finished. The process that started a render sees it exit and tells the worker (onTaskChange),
 * which then polls the task at once, and wakes the oldest tasks queued for the slot that freed.
 */
export class PreviewProvider implements Provider {
  readonly name = 'preview';
  private readonly font: string | null;
  private readonly listeners: Array<(taskId: string) => void> = [];
  /** Renders this process knows are waiting for a slot, oldest first: upstream id → task id. */
  private readonly waiting = new Map<string, string>();
  /**
   * Renders this process started that have not exited: counted as running even before the
   * child has exec'd the script (until then /proc shows node's command line, not the render's).
   */
  private readonly started = new Set<string>();

  /** One entry per render started on this machine and not ended: its pid. */
  private readonly runningDir: string;

  constructor(private readonly opts: PreviewOptions) {
    this.font = opts.fontFile === undefined ? (existsSync(DEFAULT_FONT) ? DEFAULT_FONT : null) : opts.fontFile;
    this.runningDir = join(opts.workDir, '.running');
    mkdirSync(this.runningDir, { recursive: true });
  }

  private dir(id: string): string {
    if (!/^preview_[A-Za-z0-9_]+$/.test(id)) throw new Error(`not a preview task id: ${id}`);
    return join(this.opts.workDir, id);
  }

  onTaskChange(listener: (taskId: string) => void): void {
    this.listeners.push(listener);
  }

  async submit(req: SubmitRequest): Promise<SubmitAnswer> {
    // Derived from the task id, so submitting twice (after a crash) finds the same render.
    const upstreamId = `preview_${req.taskId.replace(/[^A-Za-z0-9_]/g, '')}`;
    const dir = this.dir(upstreamId);
    if (existsSync(join(dir, 'spec.json'))) return { upstreamId }; // the next poll finds it running, done or dead
    mkdirSync(dir, { recursive: true });
    let imageFile: string | null = null;
    if (req.imagePath) {
      imageFile = 'input-image';
      copyFileSync(req.imagePath, join(dir, imageFile));
    }
    const operation = req.operation ?? 'create';
    let sourceFile: string | null = null;
    if (operation !== 'create') {
      if (!req.sourceVideoPath) throw new PermanentProviderError('invalid_request', `a preview ${operation} needs its source video`);
      sourceFile = 'source.mp4';
      copyFileSync(req.sourceVideoPath, join(dir, sourceFile));
    }
    const spec: StoredSpec = {
      taskId: req.taskId,
      prompt: req.prompt,
      imageFile,
      durationSeconds: req.durationSeconds,
      width: req.width,
      height: req.height,
      fps: req.fps,
      seed: req.seed,
      n: operation === 'create' ? req.n : 1,
      ...(operation !== 'create' ? { operation, sourceFile, sourceSeconds: req.sourceSeconds ?? null } : {}),
      ...(req.characters?.length ? { characters: req.characters.map((c) => c.name) } : {}),
    };
    this.writeScript(dir, upstreamId, spec);
    writeFileSync(join(dir, 'spec.json.tmp'), JSON.stringify(spec));
    renameSync(join(dir, 'spec.json.tmp'), join(dir, 'spec.json'));
    // Start now when a slot is free: the render does not wait for the first poll.
    if (this.runningRenders() < this.opts.slots) this.start(dir, upstreamId, spec);
    else this.waiting.set(upstreamId, req.taskId);
    return { upstreamId };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const dir = this.dir(upstreamId);
    const spec = readJson<StoredSpec>(join(dir, 'spec.json'));
    if (!spec) return { state: 'failed', code: 'upstream_error', message: `preview render ${upstreamId} not found` };
    if (existsSync(join(dir, 'cancelled'))) return { state: 'failed', code: 'cancelled', message: 'Render cancelled' };

    const exit = readText(join(dir, 'exit'));
    if (exit !== null) {
      if (exit.trim() === '0') {
        return {
          state: 'succeeded',
          outputs: Array.from({ length: spec.n }, (_, index) => ({
            index,
            video: { kind: 'file', path: join(dir, `out-${index}.mp4`) },
            ...this.imageRefs(dir, index),
            durationSeconds: frameCount(spec) / spec.fps,
          })),
          // An extension produces only what follows the source it keeps.
          producedSeconds: spec.operation === 'extend' ? (frameCount(spec) - sourceFrameCount(spec)) / spec.fps : (frameCount(spec) / spec.fps) * spec.n,
        };
      }
      // ffmpeg's stderr is for the operator: the client is told that the render failed.
      const log = (readText(join(dir, 'render.log')) ?? '').trim().split('\n').slice(-5).join('\n');
      return { state: 'failed', code: 'upstream_error', message: `Preview render failed (ffmpeg exit ${exit.trim()})`, detail: log || undefined };
    }

    // A group render made this one's files (its worker may have died before keeping them).
    if (this.keepGrouped(dir)) return this.poll(upstreamId);
    const pidText = readText(join(dir, 'pid'));
    if (pidText === '' && this.isStarting(dir)) return { state: 'running', progress: 0 };
    const pid = Number(pidText || NaN);
    if (Number.isFinite(pid) && this.isRendering(pid, upstreamId)) {
      return { state: 'running', progress: this.progress(dir, spec) };
    }
    if (pidText !== null) {
      // The render process is gone without a result: restart it (finished outputs are kept).
      const restarts = Number(readText(join(dir, 'restarts')) ?? 0) + 1;
      if (restarts > (this.opts.maxRestarts ?? 3)) {
        return { state: 'failed', code: 'upstream_error', message: 'Preview render died repeatedly' };
      }
      writeFileSync(join(dir, 'restarts'), String(restarts));
      rmSync(join(dir, 'pid'), { force: true });
    }
    const running = this.runningRenders();
    if (running >= this.opts.slots) {
      if (spec.taskId && !this.waiting.has(upstreamId)) this.waiting.set(upstreamId, spec.taskId);
      return { state: 'queued', queuePosition: running - this.opts.slots + 1, nextPollMs: this.opts.queuedPollMs ?? 2_000 };
    }
    this.start(dir, upstreamId, spec);
    return { state: 'running', progress: this.progress(dir, spec) };
  }

  async fetchOutput(ref: OutputRef): Promise<Readable> {
    if (ref.kind !== 'file') throw new Error('preview outputs are local files');
    return createReadStream(ref.path);
  }

  async cancel(upstreamId: string): Promise<void> {
    const dir = this.dir(upstreamId);
    if (!existsSync(dir)) return;
    writeFileSync(join(dir, 'cancelled'), '1');
    this.waiting.delete(upstreamId);
    const pid = Number(readText(join(dir, 'pid')) || NaN); // empty while a start is under way: nothing to kill yet
    // A group render is left to finish (tiny clips): killing it would stop the other tasks' renders too.
    if (Number.isFinite(pid) && this.isRendering(pid, upstreamId) && !commandOf(pid)?.includes(GROUP_SCRIPT)) {
      try {
        process.kill(-pid, 'SIGKILL'); // the whole process group: the shell and its ffmpeg
      } catch {
        /* already gone */
      }
    }
  }

  async release(upstreamId: string): Promise<void> {
    this.waiting.delete(upstreamId);
    // Off the event loop: a render folder holds a dozen files, and a burst of renders ends at once.
    await rm(join(this.runningDir, upstreamId), { force: true });
    await rm(this.dir(upstreamId), { recursive: true, force: true });
  }

  async heldUpstreamIds(olderThanMs: number): Promise<string[]> {
    const now = Date.now();
    return readdirSync(this.opts.workDir).filter((id) => {
      if (!/^preview_[A-Za-z0-9_]+$/.test(id)) return false;
      const info = statSync(join(this.opts.workDir, id), { throwIfNoEntry: false });
      return info !== undefined && now - info.mtimeMs >= olderThanMs;
    });
  }

  /**
   * Starts the render, unless another process of the machine is starting or running it: the pid
   * file, created exclusively before the spawn, is the claim (empty until the pid is known).
   */
  private start(dir: string, upstreamId: string, spec: StoredSpec): boolean {
    if (!this.claim(dir)) return false;
    this.launch({ upstreamId, dir, spec });
    return true;
  }

  private claim(dir: string): boolean {
    if (existsSync(join(dir, 'cancelled'))) return false;
    try {
      writeFileSync(join(dir, 'pid'), '', { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }

  /** Runs a claimed render's own script. */
  private launch(render: QueuedRender): void {
    this.ensureScript(render);
    this.spawnRender(join(render.dir, 'render.sh'), [], render.dir, [render]);
  }

  /**
   * Starts several queued renders in one slot, as one ffmpeg process (planGroup), when more than
   * one of those claimed can join it; else each on its own. The group's script marks each member's
   * folder `grouped` once ffmpeg has made every file, with shell builtins only (no process per
   * member); keepGrouped then moves the files into place as the member's own script would. A group
   * that fails leaves no mark: each member is then found dead and restarted on its own.
   */
  private startGroup(renders: QueuedRender[]): boolean {
    const claimed = renders.filter((r) => this.claim(r.dir));
    if (claimed.length <= 1) {
      for (const r of claimed) this.launch(r);
      return claimed.length === 1;
    }
    for (const r of claimed) this.ensureScript(r); // the text files the group's filters read
    const leader = claimed[0]!;
    // Run from the work folder: a member's folder removed meanwhile fails that member, not the paths of the rest.
    const args = planGroup(
      claimed.map((r) => ({ spec: r.spec, dir: `${r.upstreamId}/` })),
      this.font,
    );
    const lines = [
      '#!/bin/sh',
      `${[this.opts.ffmpegPath, ...args].map(quote).join(' ')} 2>>${quote(`${leader.upstreamId}/render.log`)} || exit $?`,
      ...claimed.map((r) => `echo 0 > ${quote(`${r.upstreamId}/grouped`)}`),
      `rm -f ${quote(join(this.runningDir, leader.upstreamId))}`,
      '',
    ];
    const script = join(leader.dir, GROUP_SCRIPT);
    writeFileSync(script, lines.join('\n'));
    // The members' ids are the script's arguments: each one's pid check finds its id in the command line.
    this.spawnRender(
      script,
      claimed.map((r) => r.upstreamId),
      this.opts.workDir,
      claimed,
    );
    return true;
  }

  /** Spawns a render script detached; the first render's id names its slot (`.running` entry). */
  private spawnRender(script: string, args: string[], cwd: string, renders: QueuedRender[]): void {
    const slot = renders[0]!.upstreamId;
    for (const r of renders) this.waiting.delete(r.upstreamId);
    const child = spawn('/bin/sh', [script, ...args], { cwd, detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    this.started.add(slot);
    // The script writes `exit` (or a group's marks) before it ends: once it has ended, a poll sees the outcome.
    child.on('exit', () => {
      this.started.delete(slot);
      if (renders.length > 1) for (const r of renders) this.keepGrouped(r.dir);
      this.renderEnded(taskIdsOf(renders));
    });
    child.unref();
    for (const r of renders) writeFileSync(join(r.dir, 'pid'), String(child.pid));
    writeFileSync(join(this.runningDir, slot), String(child.pid));
  }

  /**
   * Moves what a group render made for this folder into place, as its own script would (images,
   * then the video, then `exit`); true once the render's outcome is there. Safe to run twice.
   */
  private keepGrouped(dir: string): boolean {
    if (!existsSync(join(dir, 'grouped'))) return false;
    for (const [from, to] of [
      ['thumb-0.tmp.jpg', 'thumb-0.jpg'],
      ['sprite-0.tmp.jpg', 'sprite-0.jpg'],
      ['out-0.tmp.mp4', 'out-0.mp4'],
    ] as const) {
      if (existsSync(join(dir, from))) renameQuietly(join(dir, from), join(dir, to));
    }
    const done = existsSync(join(dir, 'out-0.mp4'));
    if (done && !existsSync(join(dir, 'exit'))) {
      const tmp = join(dir, `exit.${process.pid}.tmp`);
      writeFileSync(tmp, '0\n');
      renameQuietly(tmp, join(dir, 'exit'));
    }
    rmSync(join(dir, 'grouped'), { force: true });
    return done;
  }

  /** A render submitted before scripts were written at submit has none yet. */
  private ensureScript(render: QueuedRender): void {
    if (!existsSync(join(render.dir, 'render.sh'))) this.writeScript(render.dir, render.upstreamId, render.spec);
  }

  /**
   * Writes the render's script and the text files its filters read. Submit writes them, so a
   * freed slot only has to spawn the next render: in a burst, that hand-over is what each slot waits
   * for between two renders.
   */
  private writeScript(dir: string, upstreamId: string, spec: StoredSpec): void {
    const entry = join(this.runningDir, upstreamId);
    const lines = ['#!/bin/sh', `# ${upstreamId}`, '('];
    for (let i = 0; i < spec.n; i++) {
      const images = { thumbnail: `thumb-${i}.tmp.jpg`, spritesheet: `sprite-${i}.tmp.jpg` };
      const keepImages = `mv thumb-${i}.tmp.jpg thumb-${i}.jpg && mv sprite-${i}.tmp.jpg sprite-${i}.jpg`;
      const plan = planOutput(spec, i, this.font, `out-${i}.tmp.mp4`, `progress-${i}.txt`, images);
      for (const [name, text] of Object.entries(plan.textFiles)) writeFileSync(join(dir, name), text);
      const cmd = [this.opts.ffmpegPath, ...plan.args].map(quote).join(' ');
      const keep = plan.makesImages ? `${keepImages} && mv out-${i}.tmp.mp4 out-${i}.mp4` : `mv out-${i}.tmp.mp4 out-${i}.mp4`;
      lines.push(`  [ -f out-${i}.mp4 ] || { ${cmd} 2>>render.log && ${keep}; } || exit $?`);
      // The images are a bonus: without them finalize makes its own.
      const makeImages = [this.opts.ffmpegPath, ...planImages(spec, `out-${i}.mp4`, images)].map(quote).join(' ');
      lines.push(`  [ -f thumb-${i}.jpg ] && [ -f sprite-${i}.jpg ] || { ${makeImages} 2>>render.log && ${keepImages}; } || :`);
    }
    lines.push(')', 'echo $? > exit.tmp && mv exit.tmp exit', `rm -f ${quote(entry)}`, '');
    // Renamed into place: a script found is a whole one.
    writeFileSync(join(dir, 'render.sh.tmp'), lines.join('\n'));
    renameSync(join(dir, 'render.sh.tmp'), join(dir, 'render.sh'));
  }

  /** A claim younger than this is a render being started; older, its starter died before the spawn. */
  private isStarting(dir: string): boolean {
    const claimed = statSync(join(dir, 'pid'), { throwIfNoEntry: false });
    return claimed !== undefined && Date.now() - claimed.mtimeMs < 10_000;
  }

  /**
   * Hands the freed slot on at once: starts the oldest renders this process knows are queued (no
   * poll in between), then wakes their tasks and the ones whose render ended, so each is polled now.
   * With several queued, a slot takes a group of them (its share of the queue, GROUP_MAX at most)
   * when they are small enough to share one ffmpeg process (joinsGroup): for a clip of a second or
   * two, starting ffmpeg is most of the work.
   */
  private renderEnded(taskIds: string[]): void {
    const wake = [...taskIds];
    let free = this.opts.slots - this.runningRenders();
    while (free > 0 && this.waiting.size > 0) {
      const renders = this.takeQueued(Math.min(GROUP_MAX, Math.ceil(this.waiting.size / free)), wake);
      if (renders.length > 0 && this.startGroup(renders)) free--;
      wake.push(...taskIdsOf(renders));
    }
    for (const id of wake) for (const listener of this.listeners) listener(id);
  }

  /**
   * Takes the oldest queued render and, when it can join a group, the next queued ones that can
   * too, up to `max`. A queued render whose spec cannot be read is dropped from the queue and only
   * woken (its poll reports it).
   */
  private takeQueued(max: number, wake: string[]): QueuedRender[] {
    const taken: QueuedRender[] = [];
    for (const [upstreamId, taskId] of this.waiting) {
      if (taken.length >= max) break;
      const dir = this.dir(upstreamId);
      let spec: StoredSpec | null = null;
      try {
        spec = readJson<StoredSpec>(join(dir, 'spec.json'));
      } catch {
        /* unreadable: its poll reports it */
      }
      if (!spec) {
        this.waiting.delete(upstreamId);
        wake.push(taskId);
        continue;
      }
      // A render restarted once (its group or its own process failed) runs alone: one bad render
      // must not fail group after group.
      const groupable = joinsGroup(spec) && !existsSync(join(dir, 'restarts'));
      if (taken.length > 0 && !groupable) continue;
      this.waiting.delete(upstreamId);
      taken.push({ upstreamId, dir, spec: { ...spec, taskId: spec.taskId ?? taskId } });
      if (!groupable) break;
    }
    return taken;
  }

  /** Alive and really our render (guards against a recycled pid). */
  private isRendering(pid: number, upstreamId: string): boolean {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    const command = commandOf(pid);
    return command === null ? !existsSync('/proc/self') : command.includes(upstreamId);
  }

  /**
   * Renders running on this machine, from the index of started renders (one entry each, removed by
   * the render's script as it ends), not by looking into every render folder: a poll of a task
   * queued behind thousands of others stays cheap. An entry whose process is gone is removed here.
   */
  private runningRenders(): number {
    let count = this.started.size;
    for (const name of safeReaddir(this.runningDir)) {
      if (this.started.has(name)) continue;
      const pid = Number(readText(join(this.runningDir, name)) ?? NaN);
      if (Number.isFinite(pid) && this.isRendering(pid, name)) count++;
      else rmSync(join(this.runningDir, name), { force: true });
    }
    return count;
  }

  /** The output's images made by the render, when it made them. */
  private imageRefs(dir: string, index: number): { thumbnail?: OutputRef; spritesheet?: OutputRef } {
    const thumbnail = join(dir, `thumb-${index}.jpg`);
    const spritesheet = join(dir, `sprite-${index}.jpg`);
    return existsSync(thumbnail) && existsSync(spritesheet)
      ? { thumbnail: { kind: 'file', path: thumbnail }, spritesheet: { kind: 'file', path: spritesheet } }
      : {};
  }

  private progress(dir: string, spec: RenderSpec): number {
    const frames = frameCount(spec);
    let done = 0;
    for (let i = 0; i < spec.n; i++) {
      if (existsSync(join(dir, `out-${i}.mp4`))) {
        done += 1;
        continue;
      }
      const text = readText(join(dir, `progress-${i}.txt`)) ?? '';
      const matches = [...text.matchAll(/^frame=(\d+)$/gm)];
      const last = matches.length ? Number(matches[matches.length - 1]![1]) : 0;
      done += Math.min(1, last / frames);
    }
    return Math.floor((done / spec.n) * 100);
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function readJson<T>(path: string): T | null {
  const t = readText(path);
  return t === null ? null : (JSON.parse(t) as T);
}

const taskIdsOf = (renders: QueuedRender[]): string[] => renders.flatMap((r) => (r.spec.taskId ? [r.spec.taskId] : []));

/** A process's command line, or null once it has gone. */
function commandOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
}

/** A rename that another process may have made first. */
function renameQuietly(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    /* done by the other */
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from '@reelay/config';

/** The repository root: spawned scripts run from here, as the launchers run them. */
export const ROOT = resolve(__dirname, '../../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process whose stdout and stderr are kept, so a test can wait for a line or show what it said. */
export interface Spawned {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr, in arrival order). */
  output(): string;
  /** The first match of `pattern` in its output; rejects with the output if it exits before printing one. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves when it has exited (at once if it already has). */
  exited(): Promise<Exit>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/** Runs a command from the repository root with its output kept (or passed through with `inheritOutput`). */
export function spawnProcess(command: string, args: string[], opts: { env?: Record<string, string | undefined>; inheritOutput?: boolean } = {}): Spawned {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: opts.env ?? process.env,
    stdio: ['ignore', opts.inheritOutput ? 'inherit' : 'pipe', opts.inheritOutput ? 'inherit' : 'pipe'],
  });
  let out = '';
  const watchers = new Set<() => void>();
  const collect = (d: Buffer) => {
    out += d.toString();
    for (const w of watchers) w();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = (): Promise<Exit> =>
    new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null
        ? r({ code: child.exitCode, signal: child.signalCode })
        : child.once('exit', (code, signal) => r({ code, signal })),
    );
  return {
    child,
    output: () => out,
    waitFor(pattern) {
      return new Promise((res, rej) => {
        const check = () => {
          const m = pattern.exec(out);
          if (!m) return;
          watchers.delete(check);
          res(m);
        };
        watchers.add(check);
        check();
        void exited().then((e) => {
          if (!watchers.delete(check)) return;
          rej(new Error(`${command} ${args.join(' ')} exited (${JSON.stringify(e)}) before printing ${pattern}:\n${out}`));
        });
      });
    },
    exited,
    stop(signal = 'SIGTERM') {
      child.kill(signal);
      return exited();
    },
  };
}

/** Runs a TypeScript entry point (e.g. apps/api/src/main.ts) with tsx, as `pnpm start` does. */
export function spawnTs(script: string, opts: { env?: Record<string, string | undefined>; nodeFlags?: string[]; inheritOutput?: boolean } = {}): Spawned {
  return spawnProcess(process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', script], opts);
}

type StackConfig = Pick<Config, 'DATABASE_URL' | 'REDIS_URL' | 'REELAY_QUEUE_PREFIX' | 'REELAY_STORAGE_DIR' | 'REELAY_MODELS_FILE'>;

/**
 * A real worker process on a stack's queue, database, storage and catalog, so it can be killed
 * with SIGKILL or stopped with SIGTERM. Short locks and intervals keep takeovers quick; `env`
 * overrides any of them.
 */
export function spawnWorker(stack: { config: StackConfig }, env: Record<string, string> = {}): Spawned {
  const c = stack.config;
  return spawnTs('apps/worker/src/main.ts', {
    env: {
      ...process.env,
      DATABASE_URL: c.DATABASE_URL,
      REDIS_URL: c.REDIS_URL,
      REELAY_QUEUE_PREFIX: c.REELAY_QUEUE_PREFIX,
      REELAY_STORAGE_DIR: c.REELAY_STORAGE_DIR,
      ...(c.REELAY_MODELS_FILE ? { REELAY_MODELS_FILE: c.REELAY_MODELS_FILE } : {}),
      POLL_MIN_MS: '200',
      POLL_MAX_MS: '500',
      WORKER_LOCK_MS: '3000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      WORKER_RECONCILE_INTERVAL_MS: '2000',
      WORKER_ADMISSION_INTERVAL_MS: '500',
      // Any free port: several workers run side by side.
      WORKER_METRICS_PORT: '0',
      ...env,
    },
  });
}

/** A real API process (apps/api/src/main.ts); `env` sets its port, queue prefix and so on. */
export function spawnApi(env: Record<string, string | undefined>, opts: { nodeFlags?: string[]; inheritOutput?: boolean } = {}): Spawned {
  return spawnTs('apps/api/src/main.ts', { ...opts, env: { ...process.env, ...env } });
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Where the preview renderer works on a task: `<storage>/../preview-renders/preview_<id>` (its pid file lives there). */
export function previewRenderDir(stack: { config: Pick<Config, 'REELAY_STORAGE_DIR'> }, taskId: string): string {
  return join(previewRendersRoot(stack), `preview_${taskId.replace(/[^A-Za-z0-9_]/g, '')}`);
}

const previewRendersRoot = (stack: { config: Pick<Config, 'REELAY_STORAGE_DIR'> }): string =>
  join(resolve(stack.config.REELAY_STORAGE_DIR), '..', 'preview-renders');

/**
 * Kills the preview renders a test stack leaves running. Renders are detached on purpose (one
 * outlives a worker's restart, and the next poll picks it up), so a stack's worker stopping does
 * not stop them, and one still writing its folder would fail the folder's removal. Only a process
 * whose working folder is that render's is killed: a pid may have been reused since.
 */
export function stopPreviewRenders(stack: { config: Pick<Config, 'REELAY_STORAGE_DIR'> }): void {
  const root = previewRendersRoot(stack);
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    try {
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      if (pid > 0 && readlinkSync(`/proc/${pid}/cwd`) === dir) process.kill(-pid, 'SIGKILL'); // its group: the shell and its ffmpeg
    } catch {
      /* no pid yet, or already gone */
    }
  }
}

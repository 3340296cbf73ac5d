import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMp4, until, writeTestCatalog } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * `reelay batch …` as an operator runs it: a child process talking HTTP to a real stack with
 * REELAY_URL and REELAY_API_KEY. A 200-line JSONL of plain prompts on the preview renderer's
 * tiniest settings; the first run is killed halfway through its downloads and run again.
 */
const ROOT = resolve(__dirname, '../..');
// 200 as specified; CLI_BATCH_LINES makes a quicker run on a busy machine (each preview render is a process).
const LINES = Number(process.env.CLI_BATCH_LINES ?? 200);
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ REELAY_MODELS_FILE: writeTestCatalog(), WORKER_BATCH_CHECK_MS: '200' });
});
afterAll(async () => {
  await stack.close();
});

const env = (): NodeJS.ProcessEnv => ({ ...process.env, REELAY_URL: stack.url, REELAY_API_KEY: stack.key });
const ARGS = (file: string, dir: string) => [
  '--import',
  'tsx',
  'apps/cli/src/main.ts',
  'batch',
  'submit',
  file,
  '--wait',
  '--out',
  dir,
  '--poll-ms',
  '300',
  '--concurrency',
  '1',
];

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(process.execPath, args, { cwd: ROOT, env: env(), maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

const manifestLines = (dir: string): string[] =>
  existsSync(join(dir, 'manifest.jsonl'))
    ? readFileSync(join(dir, 'manifest.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.endsWith('}'))
    : [];

test('batch submit --wait --out: every video (200) and a manifest whose sha256 match; killed halfway, a re-run finishes without downloading again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-cli-batch-'));
  const input = join(dir, 'prompts.jsonl');
  writeFileSync(
    input,
    Array.from({ length: LINES }, (_, i) => JSON.stringify({ prompt: `clip ${i}`, model: 'tiny', duration: 1, width: 64, height: 64, fps: 10 })).join('\n'),
  );
  const out = join(dir, 'out');

  // First run: killed once some downloads are in the manifest.
  const child = spawn(process.execPath, ARGS(input, out), { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await until(
    'the first downloads',
    async () => {
      if (child.exitCode !== null) throw new Error(`the CLI exited early (${child.exitCode}): ${stderr.slice(-2000)}`);
      return manifestLines(out).length >= 10 ? true : null;
    },
    1_500_000,
    2,
  );
  child.kill('SIGKILL');
  await exited;
  expect(stderr).toMatch(new RegExp(`batch \\|.*\\| \\d+/${LINES} done`)); // the live progress bar
  const before = new Map<string, number>();
  for (const l of manifestLines(out)) {
    const e = JSON.parse(l) as { file: string };
    before.set(e.file, statSync(join(out, e.file)).mtimeMs);
  }
  expect(before.size).toBeGreaterThanOrEqual(10);
  expect(before.size).toBeLessThan(LINES);

  // Second run: same batch (nothing submitted twice), only the rest downloaded.
  const second = await run(ARGS(input, out));
  expect(second.code).toBe(0);
  expect(second.stdout).toMatch(new RegExp(`downloaded ${LINES - before.size}, already there ${before.size}, not completed 0`));
  expect(await stack.db.batch.count({ where: { apiKey: { keyPrefix: stack.key.slice(0, 8) } } })).toBe(1);

  const entries = manifestLines(out).map(
    (l) => JSON.parse(l) as { custom_id: string; video_id: string; status: string; file: string; bytes: number; sha256: string },
  );
  expect(entries).toHaveLength(LINES);
  expect(new Set(entries.map((e) => e.custom_id)).size).toBe(LINES);
  for (const e of entries) {
    expect(e.status).toBe('completed');
    expect(e.file).toBe(`${e.custom_id}.mp4`);
    const bytes = readFileSync(join(out, e.file));
    expect(isMp4(bytes)).toBe(true);
    expect(bytes.length).toBe(e.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(e.sha256);
    expect(e.video_id).toMatch(/^vid_/);
  }
  expect(readdirSync(out).filter((f) => f.endsWith('.mp4'))).toHaveLength(LINES);
  for (const [file, mtime] of before) expect(statSync(join(out, file)).mtimeMs).toBe(mtime);

  // status and list show it.
  const id = entries.length ? (await stack.db.batch.findFirst({ where: { apiKey: { keyPrefix: stack.key.slice(0, 8) } } }))!.id : '';
  const status = await run(['--import', 'tsx', 'apps/cli/src/main.ts', 'batch', 'status', id]);
  expect(status.stdout).toContain(`${id}\tcompleted\ttotal=${LINES} completed=${LINES} failed=0`);
  const list = await run(['--import', 'tsx', 'apps/cli/src/main.ts', 'batch', 'list']);
  expect(list.stdout).toContain(id);
}, 1_800_000);

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMp4, probe } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * The seed spec's cURL, Python (requests) and JavaScript (fetch) examples, unchanged but for the URL
 * and key, each run by its driver (examples/seed/run-*) against a running stack: create, poll
 * until completed, download from the signed url. The video must be the one the spec asked for.
 */
const EXAMPLES = resolve(__dirname, '../../examples/seed');

/** The first Python 3 with `requests` importable (infra/scripts/test.sh installs python3-requests when it can). */
function pythonWithRequests(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}
const python = pythonWithRequests();
if (!python) {
  console.warn('Skipping the Python example: no python3 with the requests module (apt-get install -y python3-requests).');
}

let stack: Stack;
let dir: string;
beforeAll(async () => {
  stack = await startStack();
  dir = mkdtempSync(join(tmpdir(), 'reelay-examples-'));
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[], output: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      cwd: dir,
      env: { ...process.env, REELAY_URL: stack.url, REELAY_API_KEY: stack.key, REELAY_OUTPUT: output },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function expectSeedVideo(cmd: string, args: string[]): Promise<string> {
  const output = join(dir, `${args[0]!.replace(/\W/g, '_')}.mp4`);
  const res = await run(cmd, args, output);
  if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.code}:\n${res.stdout}\n${res.stderr}`);
  const bytes = readFileSync(output);
  expect(isMp4(bytes)).toBe(true);
  expect(probe(bytes)).toMatchObject({ width: 1920, height: 1080, fps: 30, frames: 300, codec: 'h264' });
  return res.stdout;
}

test('cURL: curl.sh creates the seed video; run-curl.sh polls and downloads it', async () => {
  const stdout = await expectSeedVideo('bash', [join(EXAMPLES, 'run-curl.sh')]);
  expect(stdout).toMatch(/"seconds":"10.0","completed_at":null/);
}, 600_000);

(python ? test : test.skip)(
  'Python (requests): example.py creates it; run_example.py polls and downloads it',
  async () => {
    const stdout = await expectSeedVideo(python!, [join(EXAMPLES, 'run_example.py')]);
    expect(stdout).toContain('"size": "1920x1080"');
  },
  600_000,
);

test('JavaScript (fetch): example.mjs creates it; run-example.mjs polls and downloads it', async () => {
  const stdout = await expectSeedVideo(process.execPath, [join(EXAMPLES, 'run-example.mjs')]);
  expect(stdout).toContain("size: '1920x1080'");
}, 600_000);

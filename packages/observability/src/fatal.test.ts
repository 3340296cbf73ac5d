import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A process that crashes must say in its log why it died (not only on stderr), after every line it
// logged before, although the JSON logger writes asynchronously.
function crash(how: 'throw' | 'reject'): { lines: { msg: string; level: number }[]; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-fatal-'));
  const script = join(dir, 'crash.ts');
  writeFileSync(
    script,
    `import { createLogger } from ${JSON.stringify(join(__dirname, 'logger.ts'))};
import { exitOnFatalErrors } from ${JSON.stringify(join(__dirname, 'fatal.ts'))};
const logger = createLogger({ name: 'crash', level: 'info', format: 'json' });
exitOnFatalErrors(logger);
for (let i = 0; i < 2000; i++) logger.info({ i, pad: 'x'.repeat(200) }, 'step ' + i);
logger.info('the last step before the crash');
${how === 'throw' ? "setImmediate(() => { throw new Error('boom'); });" : "Promise.reject(new Error('boom'));"}
`,
  );
  const out = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', env: { ...process.env, LOG_FORMAT: '' } });
  const lines = out.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; level: number });
  return { lines, status: out.status };
}

test.each(['throw', 'reject'] as const)(
  'an uncaught %s exits 1 with every earlier line and a fatal line in the log',
  (how) => {
    const { lines, status } = crash(how);
    expect(status).toBe(1);
    expect(lines.filter((l) => l.msg.startsWith('step '))).toHaveLength(2000);
    expect(lines.map((l) => l.msg)).toContain('the last step before the crash');
    const last = lines[lines.length - 1]!;
    expect(last.level).toBe(60);
    expect(last.msg).toMatch(how === 'throw' ? /uncaught exception/ : /unhandled rejection/);
    expect(JSON.stringify(last)).toContain('boom');
  },
  60_000,
);

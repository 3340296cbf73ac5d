/**
 * The lint rule that keeps SQL and Prisma calls in packages/db, run through the repository's own
 * eslint.config.mjs. ESLint loads that config with a dynamic import, which jest's module sandbox
 * does not allow, so a child Node process does the linting and prints the messages.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const fixture = (name: string): string => readFileSync(join(__dirname, '..', 'fixtures', 'no-db-in-apps', name), 'utf8');

interface Message {
  ruleId: string | null;
  line: number;
  message: string;
}

const LINT = `
import { ESLint } from 'eslint';
const eslint = new ESLint({ overrideConfigFile: 'eslint.config.mjs' });
const out = [];
for (const [filePath, text] of JSON.parse(process.argv[1])) {
  const [result] = await eslint.lintText(text, { filePath });
  out.push(result.messages.map(({ ruleId, line, message }) => ({ ruleId, line, message })));
}
console.log(JSON.stringify(out));`;

/** Lints each source as if it lived at the given path, with the real config. */
function lint(files: [path: string, text: string][]): Message[][] {
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', LINT, JSON.stringify(files)], { cwd: root, encoding: 'utf8' });
  return JSON.parse(stdout) as Message[][];
}

const queries = fixture('queries.ts');
let inApps: Message[], inDb: Message[], clean: Message[];

beforeAll(() => {
  [inApps, inDb, clean] = lint([
    ['apps/worker/src/queries.ts', queries],
    ['packages/db/src/queries.ts', queries],
    ['apps/api/src/clean.ts', fixture('clean.ts')],
  ]) as [Message[], Message[], Message[]];
});

test('every SQL and Prisma call under apps/ is an error naming what to move', () => {
  const reported = inApps.filter((m) => m.ruleId === 'reelay/no-db-in-apps');
  const lineOf = (needle: string): number => queries.split('\n').findIndex((l) => l.includes(needle)) + 1;
  const expected: [needle: string, message: string][] = [
    ["from 'pg'", "'pg' is a database driver: only packages/db imports it."],
    ["from '@prisma/client'", "'@prisma/client' is a database driver"],
    ['generated/prisma/client', 'generated/prisma/client'],
    ['$queryRaw`', '`$queryRaw` runs SQL'],
    ['$executeRaw`', '`$executeRaw` runs SQL'],
    ['$queryRawUnsafe(', '`$queryRawUnsafe` runs SQL'],
    ['$transaction(', '`$transaction` runs SQL'],
    ['tx.task.count', '`task.count` is a Prisma query'],
    ['pool.query(', '`.query()` on a database client runs SQL'],
    ['apiKey.update(', '`apiKey.update` is a Prisma query'],
    ['task.findMany(', '`task.findMany` is a Prisma query'],
  ];
  for (const [needle, message] of expected) {
    expect(reported).toContainEqual(expect.objectContaining({ line: lineOf(needle), message: expect.stringContaining(message) }));
  }
  expect(reported).toHaveLength(expected.length);
});

test('the same source is allowed in packages/db', () => {
  expect(inDb.filter((m) => m.ruleId === 'reelay/no-db-in-apps')).toEqual([]);
});

test('an app reaching the database through packages/db functions lints clean', () => {
  expect(clean).toEqual([]);
});

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { migrate } from './migrate';

// The runner against a real Postgres: each test gets its own scratch database and migrations folder.
const base = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_test');

function databaseUrl(suffix: string): string {
  const url = new URL(base);
  url.pathname = `${base.pathname}_runner_${suffix}`;
  return url.toString();
}

async function admin(sql: string): Promise<void> {
  const url = new URL(base);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const dbName = (url: string) => `"${decodeURIComponent(new URL(url).pathname.slice(1))}"`;
const created: string[] = [];

async function freshDatabase(suffix: string): Promise<string> {
  const url = databaseUrl(suffix);
  await admin(`DROP DATABASE IF EXISTS ${dbName(url)} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${dbName(url)}`);
  created.push(url);
  return url;
}

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}
const bookkeeping = (url: string) =>
  query<MigrationRow>(
    url,
    'SELECT migration_name, checksum, finished_at, logs, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name, started_at',
  );

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'reelay-runner-test-'));
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  for (const url of created) await admin(`DROP DATABASE IF EXISTS ${dbName(url)} WITH (FORCE)`);
});

function migrationsFolder(name: string, migrations: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [migration, sql] of Object.entries(migrations)) writeMigration(dir, migration, sql);
  return dir;
}

function writeMigration(dir: string, migration: string, sql: string): void {
  mkdirSync(join(dir, migration), { recursive: true });
  writeFileSync(join(dir, migration, 'migration.sql'), sql);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const CREATE_A = 'CREATE TABLE "a" ("id" TEXT NOT NULL, CONSTRAINT "a_pkey" PRIMARY KEY ("id"));\n';
const CREATE_B = 'CREATE TABLE "b" ("id" TEXT NOT NULL);\nINSERT INTO "a" ("id") VALUES (\'seeded; once\');\n';

test('applies pending migrations in name order, records them like Prisma, and a second run is a no-op', async () => {
  const url = await freshDatabase('twice');
  const dir = migrationsFolder('twice', { '20990101000001_b': CREATE_B, '20990101000000_a': CREATE_A });

  expect(await migrate(url, dir)).toEqual({ applied: ['20990101000000_a', '20990101000001_b'], alreadyApplied: 0 });
  expect(await migrate(url, dir)).toEqual({ applied: [], alreadyApplied: 2 });

  // The seeded row exists once: the second run executed nothing.
  expect(await query(url, 'SELECT id FROM "a"')).toEqual([{ id: 'seeded; once' }]);
  const rows = await bookkeeping(url);
  expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count, r.finished_at instanceof Date, r.logs])).toEqual([
    ['20990101000000_a', sha256(CREATE_A), 1, true, null],
    ['20990101000001_b', sha256(CREATE_B), 1, true, null],
  ]);
});

test('refuses a migration.sql that changed after it was applied, naming it, and runs nothing', async () => {
  const url = await freshDatabase('changed');
  const dir = migrationsFolder('changed', { '20990101000000_a': CREATE_A });
  await migrate(url, dir);

  writeMigration(dir, '20990101000000_a', CREATE_A + 'ALTER TABLE "a" ADD COLUMN "extra" TEXT;\n');
  writeMigration(dir, '20990101000001_b', CREATE_B);

  await expect(migrate(url, dir)).rejects.toThrow(/migration 20990101000000_a was changed after it was applied/);
  const columns = await query<{ column_name: string }>(url, `SELECT column_name FROM information_schema.columns WHERE table_name = 'a'`);
  expect(columns.map((c) => c.column_name)).toEqual(['id']);
  expect((await bookkeeping(url)).map((r) => r.migration_name)).toEqual(['20990101000000_a']);
});

test('a failing migration keeps its error in logs with finished_at null, rolls back its own statements, and blocks later runs', async () => {
  const url = await freshDatabase('failing');
  const failing = 'CREATE TABLE "c" ("id" TEXT);\nINSERT INTO "missing_table" VALUES (1);\n';
  const dir = migrationsFolder('failing', { '20990101000000_a': CREATE_A, '20990101000001_bad': failing, '20990101000002_b': CREATE_B });

  await expect(migrate(url, dir)).rejects.toThrow(/migration 20990101000001_bad failed: relation "missing_table" does not exist/);

  const rows = await bookkeeping(url);
  expect(rows.map((r) => [r.migration_name, r.finished_at === null, r.applied_steps_count])).toEqual([
    ['20990101000000_a', false, 1],
    ['20990101000001_bad', true, 0],
  ]);
  expect(rows[1]!.logs).toMatch(/relation "missing_table" does not exist/);
  // The file runs as one implicit transaction, so its first statement did not stick.
  expect(await query(url, `SELECT to_regclass('public.c') AS c`)).toEqual([{ c: null }]);

  await expect(migrate(url, dir)).rejects.toThrow(/migration 20990101000001_bad failed earlier and needs manual attention/);
  expect(await query(url, `SELECT to_regclass('public.b') AS b`)).toEqual([{ b: null }]);
});

test('two runners started together apply each migration exactly once', async () => {
  const url = await freshDatabase('concurrent');
  // Slow and not re-runnable: a second application would fail on the existing table or duplicate key.
  const dir = migrationsFolder('concurrent', {
    '20990101000000_a': `SELECT pg_sleep(0.5);\n${CREATE_A}INSERT INTO "a" ("id") VALUES ('only-once');\n`,
    '20990101000001_b': CREATE_B,
  });

  const results = await Promise.all([migrate(url, dir), migrate(url, dir)]);

  expect(results.flatMap((r) => r.applied).sort()).toEqual(['20990101000000_a', '20990101000001_b']);
  expect(results.map((r) => r.alreadyApplied).sort()).toEqual([0, 2]);
  expect((await bookkeeping(url)).map((r) => r.migration_name)).toEqual(['20990101000000_a', '20990101000001_b']);
  expect(await query(url, 'SELECT id FROM "a" ORDER BY id')).toEqual([{ id: 'only-once' }, { id: 'seeded; once' }]);
});

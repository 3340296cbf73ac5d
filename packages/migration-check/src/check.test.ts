import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS_DIR, migrate } from '@reelay/db';
import { Client } from 'pg';
import { SCHEMA_PATH, checkBookkeeping, checkDrift, checkMigrations, scratchDatabaseUrl, toPrisma6Schema } from './check';

// Each test works on its own scratch database next to the test database (dropped afterwards).
// Each Prisma CLI run takes seconds; allow for a busy machine.
const CLI_TESTS_TIMEOUT_MS = 240_000;
const base = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_test';

let workDir: string;
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'reelay-migration-check-test-'));
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

test(
  "the repository's migrations, applied by Reelay's runner, satisfy Prisma and match schema.prisma",
  async () => {
    const result = await checkMigrations(scratchDatabaseUrl(base, 'check_repo'));
    // Printed in full on failure: the drift SQL or the Prisma output says what disagrees.
    expect(result.problems.join('\n\n')).toBe('');
    expect(result.runs.map((run) => `${run.command.split(' --')[0]}: ${run.code}`)).toEqual([
      'prisma migrate status: 0',
      'prisma migrate deploy: 0',
      'prisma migrate diff: 0',
    ]);
  },
  CLI_TESTS_TIMEOUT_MS,
);

test(
  'SQL and schema.prisma that disagree, in either direction, are reported with the difference',
  async () => {
    // schema.prisma gains a column no migration creates ...
    const schemaPath = join(workDir, 'schema.prisma');
    const schema = readFileSync(SCHEMA_PATH, 'utf8');
    const withColumn = schema.replace(/(model Task \{\n)/, '$1  driftProbe String? @map("drift_probe")\n');
    expect(withColumn).not.toBe(schema);
    writeFileSync(schemaPath, withColumn);
    // ... and a hand-written migration adds an index the schema does not declare.
    const migrationsDir = join(workDir, 'migrations');
    cpSync(MIGRATIONS_DIR, migrationsDir, { recursive: true });
    mkdirSync(join(migrationsDir, '29991231000000_drift_probe'));
    writeFileSync(
      join(migrationsDir, '29991231000000_drift_probe', 'migration.sql'),
      '-- CreateIndex\nCREATE INDEX "tasks_provider_idx" ON "tasks"("provider");\n',
    );

    const result = await checkDrift(scratchDatabaseUrl(base, 'check_drift'), { schemaPath, migrationsDir });

    expect(result.drift).toMatch(/DROP INDEX "tasks_provider_idx"/);
    expect(result.drift).toMatch(/ALTER TABLE "tasks" ADD COLUMN\s+"drift_probe" TEXT/);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/disagree/);
  },
  CLI_TESTS_TIMEOUT_MS,
);

test(
  'bookkeeping Prisma would not accept is reported by migrate status and deploy',
  async () => {
    // A runner that applies the SQL but loses its record of having done so.
    const forgetful = async (url: string, dir: string) => {
      await migrate(url, dir);
      const client = new Client({ connectionString: url });
      await client.connect();
      await client.query('DELETE FROM "_prisma_migrations"');
      await client.end();
    };

    const result = await checkBookkeeping(scratchDatabaseUrl(base, 'check_bookkeeping'), { apply: forgetful });

    expect(result.problems).toHaveLength(2);
    expect(result.problems[0]).toMatch(/Prisma does not accept what Reelay's runner applied[\s\S]*have not yet been applied/);
    // deploy tries to re-create the tables and fails on the existing ones.
    expect(result.problems[1]).toMatch(/Prisma would apply migrations again[\s\S]*already exists/);
  },
  CLI_TESTS_TIMEOUT_MS,
);

test('the Prisma 6 copy of the schema keeps the data model, drops generators and adds a placeholder url', () => {
  const schema = readFileSync(SCHEMA_PATH, 'utf8');
  const copy = toPrisma6Schema(schema);
  expect(copy).not.toMatch(/generator\s+\w+\s*\{/);
  expect(copy).toMatch(/datasource db \{\s*provider = "postgresql"\s*url = "[^"]+"\s*\}/);
  const blocks = (text: string) => text.match(/^(model|enum) \w+ \{[^}]*\}/gm);
  expect(blocks(copy)).toEqual(blocks(schema));
  expect(blocks(copy)?.length).toBeGreaterThanOrEqual(6);
});

test(
  'a migration that does not run on an empty database is reported, naming it and the Postgres error',
  async () => {
    const migrationsDir = join(workDir, 'broken-migrations');
    cpSync(MIGRATIONS_DIR, migrationsDir, { recursive: true });
    mkdirSync(join(migrationsDir, '29991231000000_broken'));
    writeFileSync(join(migrationsDir, '29991231000000_broken', 'migration.sql'), 'ALTER TABLE "no_such_table" ADD COLUMN "x" TEXT;\n');

    const result = await checkMigrations(scratchDatabaseUrl(base, 'check_broken'), { migrationsDir });

    expect(result.problems[0]).toMatch(/runner could not apply .*29991231000000_broken failed: relation "no_such_table" does not exist/);
    // The diff replays the same folder on a shadow database and fails there too.
    expect(result.problems[1]).toMatch(/29991231000000_broken` failed to apply cleanly to the shadow database/);
  },
  CLI_TESTS_TIMEOUT_MS,
);

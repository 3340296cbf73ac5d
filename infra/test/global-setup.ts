import { createDatabaseIfMissing, migrate, rebuildIfMigratedElsewhere } from '../../packages/db/src/migrate';

/**
 * Tests run against a real Postgres: make sure the test database exists and is migrated. A test
 * database migrated by another checkout no longer matches this schema; it is rebuilt rather than
 * failing tests that compare row shapes.
 */
export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_test';
  process.env.DATABASE_URL = url;
  await createDatabaseIfMissing(url);
  if (await rebuildIfMigratedElsewhere(url)) process.stderr.write(`test database ${new URL(url).pathname.slice(1)} had another tree's migrations: rebuilt\n`);
  await migrate(url);
}

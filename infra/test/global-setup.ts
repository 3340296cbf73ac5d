import { createDatabaseIfMissing, migrate } from '../../packages/db/src/migrate';

/** Tests run against a real Postgres: make sure the test database exists and is migrated. */
export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_test';
  process.env.DATABASE_URL = url;
  await createDatabaseIfMissing(url);
  await migrate(url);
}

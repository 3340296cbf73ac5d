import { loadConfig } from '@reelay/config';
import { createDatabaseIfMissing, migrate } from './migrate';

async function main(): Promise<void> {
  const { DATABASE_URL } = loadConfig();
  await createDatabaseIfMissing(DATABASE_URL);
  const result = await migrate(DATABASE_URL);
  const db = new URL(DATABASE_URL).pathname.slice(1);
  for (const name of result.applied) console.log(`applied ${name}`);
  console.log(`database ${db}: ${result.applied.length} migration(s) applied, ${result.alreadyApplied} already up to date`);
}

main().catch((err: Error) => {
  console.error(`reelay migrate: ${err.message}`);
  process.exit(1);
});

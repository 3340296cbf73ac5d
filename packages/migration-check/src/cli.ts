import { loadConfig } from '@reelay/config';
import { checkMigrations, scratchDatabaseUrl } from './check';

/** `npm run db:check`: exits non-zero, printing what is wrong, when the migrations and schema disagree. */
async function main(): Promise<void> {
  const scratch = scratchDatabaseUrl(loadConfig().DATABASE_URL, 'migration_check');
  const result = await checkMigrations(scratch);
  for (const run of result.runs) console.log(`${run.code === 0 ? 'ok  ' : 'FAIL'} ${run.command.split(' --')[0]} (exit ${run.code})`);
  if (result.problems.length > 0) {
    for (const problem of result.problems) console.error(`\n${problem}`);
    console.error(`\ndb:check: ${result.problems.length} problem(s)`);
    process.exit(1);
  }
  console.log('db:check: Prisma accepts the migrations as applied by Reelay, and they match prisma/schema.prisma');
}

main().catch((err: Error) => {
  console.error(`db:check: ${err.message}`);
  process.exit(1);
});

/**
 * The fuzz suite from the command line:
 *
 *   npx tsx tests/fuzz/run.ts --n 10000 --seed 1 [--concurrency 6] [--timeout 5000] [--render 100] [--coverage]
 *
 * Starts its own API and worker (on DATABASE_URL, default database reelay_fuzz, created and
 * migrated if missing; REDIS_URL, default the local Redis, under a queue prefix of its own), sends
 * the generated requests, prints the table and exits 1 when any oracle failed.
 */
import { createDatabaseIfMissing, migrate } from '@reelay/db';
import { formatCoverage, formatReport, runFuzz } from './fuzz';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) {
    process.stderr.write(`--${name} needs a number\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/reelay_fuzz';
  await createDatabaseIfMissing(process.env.DATABASE_URL);
  await migrate(process.env.DATABASE_URL);
  const report = await runFuzz({
    n: arg('n', 1000),
    seed: arg('seed', 1),
    concurrency: arg('concurrency', 6),
    timeoutMs: arg('timeout', 5000),
    renderMax: arg('render', 100),
    log: (line) => process.stderr.write(`fuzz: ${line}\n`),
  });
  if (process.argv.includes('--coverage')) process.stdout.write(`${formatCoverage(report)}\n`);
  process.stdout.write(formatReport(report));
  process.exit(report.classes.length === 0 ? 0 : 1);
}

main().catch((err: Error) => {
  process.stderr.write(`fuzz: ${err.stack ?? err.message}\n`);
  process.exit(2);
});

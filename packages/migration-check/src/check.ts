import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MIGRATIONS_DIR, migrate } from '@reelay/db';
import { Client } from 'pg';
import { clientConfig } from './connection';

/**
 * Mechanical checks on prisma/migrations/, using the real Prisma CLI (6.19, JavaScript schema
 * engine over a driver adapter, so nothing is downloaded):
 * - bookkeeping: after Reelay's own runner applies the folder to a scratch database, Prisma's
 *   `migrate status` says it is up to date and `migrate deploy` finds nothing pending;
 * - drift: `migrate diff` from the migrations folder to schema.prisma is empty, i.e. the
 *   hand-written SQL and the schema describe the same database.
 */
const PACKAGE_DIR = resolve(__dirname, '..');
export const SCHEMA_PATH = resolve(__dirname, '../../../prisma/schema.prisma');
const PRISMA_CONFIG = join(PACKAGE_DIR, 'prisma.config.ts');
const PRISMA_MAJOR = '6.';
const CLI_TIMEOUT_MS = 120_000;

interface CliRun {
  command: string;
  code: number | null;
  output: string;
}

export interface CheckResult {
  /** Human-readable failures; empty when everything agrees. */
  problems: string[];
  /** The SQL that would turn the migrations' database into schema.prisma's (empty when in sync). */
  drift: string;
  runs: CliRun[];
}

type Applier = (databaseUrl: string, migrationsDir: string) => Promise<unknown>;

function prismaCli(): string {
  const pkg = JSON.parse(readFileSync(require.resolve('prisma/package.json', { paths: [PACKAGE_DIR] }), 'utf8')) as { version: string };
  if (!pkg.version.startsWith(PRISMA_MAJOR)) {
    throw new Error(`the migration check needs the Prisma ${PRISMA_MAJOR}x CLI but resolved prisma ${pkg.version}`);
  }
  return require.resolve('prisma/build/index.js', { paths: [PACKAGE_DIR] });
}

/**
 * Prisma 7's schema (no datasource url, `prisma-client` generator options) is not valid for the
 * Prisma 6 CLI. The copy keeps every model, enum and datasource setting, drops the generators
 * (migrations never use them) and gives the datasource a placeholder url: Prisma 6 requires one,
 * and with a driver adapter it is never used.
 */
export function toPrisma6Schema(schema: string): string {
  const withoutGenerators = schema.replace(/^\s*generator\s+\w+\s*\{[^}]*\}/gm, '');
  return withoutGenerators.replace(/^(\s*datasource\s+\w+\s*\{)([^}]*)\}/m, (_block, open: string, body: string) =>
    /^\s*url\s*=/m.test(body) ? `${open}${body}}` : `${open}${body}  url = "postgresql://driver-adapter-in-prisma-config"\n}`,
  );
}

function runPrisma(args: string[], env: Record<string, string>): Promise<CliRun> {
  const command = `prisma ${args.join(' ')}`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [prismaCli(), ...args, '--config', PRISMA_CONFIG], {
      cwd: PACKAGE_DIR,
      env: {
        ...process.env,
        ...env,
        CHECKPOINT_DISABLE: '1',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
        // The CLI otherwise downloads native engines at start-up although engine "js" never loads them.
        PRISMA_QUERY_ENGINE_LIBRARY: '/bin/false',
        PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CLI_TIMEOUT_MS,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ command, code, output }));
  });
}

async function onAdminDatabase(databaseUrl: string, sql: string): Promise<void> {
  const admin = new Client({ ...clientConfig(databaseUrl), database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

function quoted(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

async function recreateDatabase(databaseUrl: string): Promise<void> {
  const name = quoted(clientConfig(databaseUrl).database!);
  await onAdminDatabase(databaseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await onAdminDatabase(databaseUrl, `CREATE DATABASE ${name}`);
}

async function dropDatabase(databaseUrl: string): Promise<void> {
  await onAdminDatabase(databaseUrl, `DROP DATABASE IF EXISTS ${quoted(clientConfig(databaseUrl).database!)} WITH (FORCE)`);
}

interface Paths {
  migrationsDir: string;
  schemaPath: string;
}

async function withPrisma6Schema<T>(schemaPath: string, use: (prisma6Schema: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-migration-check-'));
  try {
    const prisma6Schema = join(dir, 'schema.prisma');
    writeFileSync(prisma6Schema, toPrisma6Schema(readFileSync(schemaPath, 'utf8')));
    return await use(prisma6Schema);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cliEnv(databaseUrl: string, migrationsDir: string, prisma6Schema: string): Record<string, string> {
  return {
    MIGRATION_CHECK_DATABASE_URL: databaseUrl,
    MIGRATION_CHECK_MIGRATIONS: migrationsDir,
    MIGRATION_CHECK_SCHEMA: prisma6Schema,
  };
}

function expectRun(run: CliRun, wanted: RegExp, problems: string[], what: string): void {
  if (run.code !== 0 || !wanted.test(run.output)) {
    problems.push(`${what}: \`${run.command}\` exited ${run.code} without ${wanted}:\n${run.output.trim()}`);
  }
}

type Options = Partial<Paths> & { apply?: Applier };

async function onScratchDatabase<T>(scratchDatabaseUrl: string, use: () => Promise<T>): Promise<T> {
  await recreateDatabase(scratchDatabaseUrl);
  try {
    return await use();
  } finally {
    await dropDatabase(scratchDatabaseUrl);
  }
}

async function bookkeeping(databaseUrl: string, { migrationsDir, schemaPath, apply }: Required<Options>): Promise<CheckResult> {
  const problems: string[] = [];
  const runs: CliRun[] = [];
  try {
    await apply(databaseUrl, migrationsDir);
  } catch (err) {
    problems.push(`Reelay's runner could not apply ${migrationsDir} to an empty database: ${(err as Error).message}`);
    return { problems, drift: '', runs };
  }
  await withPrisma6Schema(schemaPath, async (prisma6Schema) => {
    const env = cliEnv(databaseUrl, migrationsDir, prisma6Schema);
    const status = await runPrisma(['migrate', 'status'], env);
    runs.push(status);
    expectRun(status, /Database schema is up to date!/, problems, "Prisma does not accept what Reelay's runner applied");
    const deploy = await runPrisma(['migrate', 'deploy'], env);
    runs.push(deploy);
    expectRun(deploy, /No pending migrations to apply\./, problems, "Prisma would apply migrations again after Reelay's runner");
  });
  return { problems, drift: '', runs };
}

async function drift(databaseUrl: string, { migrationsDir, schemaPath }: Required<Options>): Promise<CheckResult> {
  const problems: string[] = [];
  return withPrisma6Schema(schemaPath, async (prisma6Schema) => {
    const args = ['migrate', 'diff', '--from-migrations', migrationsDir, '--to-schema-datamodel', prisma6Schema, '--script', '--exit-code'];
    const run = await runPrisma(args, cliEnv(databaseUrl, migrationsDir, prisma6Schema));
    let sql = '';
    // --exit-code: 0 = no difference, 2 = difference (the script is on stdout), anything else = error.
    if (run.code === 2) {
      sql = run.output.replace(/^Loaded Prisma config from .*$/m, '').trim();
      problems.push(`prisma/migrations/ and ${schemaPath} disagree. This SQL would make the migrated database match the schema:\n${sql}`);
    } else if (run.code !== 0) {
      problems.push(`\`${run.command}\` failed (exit ${run.code}):\n${run.output.trim()}`);
    }
    return { problems, drift: sql, runs: [run] };
  });
}

function withDefaults(options: Options): Required<Options> {
  return { migrationsDir: MIGRATIONS_DIR, schemaPath: SCHEMA_PATH, apply: migrate, ...options };
}

/*
 * Each check below drops and recreates `scratchDatabaseUrl` and drops it when done: never point it
 * at a database you want to keep. Shadow databases are created on the same server.
 */

/** Applies the migrations with `apply` (Reelay's runner by default), then asks Prisma whether it agrees. */
export function checkBookkeeping(scratchDatabaseUrl: string, options: Options = {}): Promise<CheckResult> {
  return onScratchDatabase(scratchDatabaseUrl, () => bookkeeping(scratchDatabaseUrl, withDefaults(options)));
}

/** Replays the migrations on a shadow database and diffs the result against schema.prisma. */
export function checkDrift(scratchDatabaseUrl: string, options: Partial<Paths> = {}): Promise<CheckResult> {
  return onScratchDatabase(scratchDatabaseUrl, () => drift(scratchDatabaseUrl, withDefaults(options)));
}

/** Both checks. */
export function checkMigrations(scratchDatabaseUrl: string, options: Options = {}): Promise<CheckResult> {
  return onScratchDatabase(scratchDatabaseUrl, async () => {
    const all = withDefaults(options);
    const applied = await bookkeeping(scratchDatabaseUrl, all);
    const diffed = await drift(scratchDatabaseUrl, all);
    return { problems: [...applied.problems, ...diffed.problems], drift: diffed.drift, runs: [...applied.runs, ...diffed.runs] };
  });
}

/** A sibling of `databaseUrl` on the same server, e.g. reelay -> reelay_migration_check. */
export function scratchDatabaseUrl(databaseUrl: string, suffix: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${decodeURIComponent(url.pathname.slice(1))}_${suffix}`;
  return url.toString();
}

import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

/**
 * Applies prisma/migrations/ the way Prisma's migration engine does, so the Prisma CLI's own
 * `migrate deploy` later finds nothing pending: same `_prisma_migrations` table, SHA-256 checksum of
 * each migration.sql, one row per migration, and the same advisory lock number. Reelay uses this
 * because the Prisma 7 CLI cannot migrate without downloading its schema engine.
 */
export const MIGRATIONS_DIR = resolve(__dirname, '../../../prisma/migrations');
const LOCK_ID = 72707369;

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

export async function createDatabaseIfMissing(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process
      });
    }
  } finally {
    await admin.end();
  }
}

/** Each migration folder of `dir` that has a migration.sql, with that file's SHA-256 checksum. */
function migrationChecksums(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, e.name, 'migration.sql');
    if (e.isDirectory() && existsSync(file)) out.set(e.name, createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex'));
  }
  return out;
}

/**
 * For test and scratch databases only: a database migrated by another tree (a migration `dir`
 * lacks, or one whose file differs) no longer has this schema, so it is dropped and created empty.
 * Returns whether it was.
 */
export async function rebuildIfMigratedElsewhere(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<boolean> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  let foreign = false;
  try {
    const table = await client.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
    if (table.rows[0]?.t) {
      const rows = await client.query<{ migration_name: string; checksum: string }>(
        'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
      );
      const ours = migrationChecksums(dir);
      foreign = rows.rows.some((r) => ours.get(r.migration_name) !== r.checksum);
    }
  } finally {
    await client.end();
  }
  if (!foreign) return false;
  const url = new URL(databaseUrl);
  const quoted = `"${decodeURIComponent(url.pathname.slice(1)).replace(/"/g, '""')}"`;
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoted}`);
  } finally {
    await admin.end();
  }
  return true;
}

export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  if (!existsSync(join(dir, 'migration_lock.toml'))) throw new Error(`${dir} has no migration_lock.toml`);
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'migration.sql')))
    .map((e) => e.name)
    .sort();
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  let alreadyApplied = 0;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const rows = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"',
    );
    for (const name of names) {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const done = rows.rows.find((r) => r.migration_name === name && r.rolled_back_at === null);
      if (done?.finished_at) {
        if (done.checksum !== checksum) {
          throw new Error(
            `migration ${name} was changed after it was applied (recorded checksum ${done.checksum}, file now ${checksum}): ` +
              'restore its migration.sql and put the change in a new migration',
          );
        }
        alreadyApplied++;
        continue;
      }
      if (done) throw new Error(`migration ${name} failed earlier and needs manual attention (see _prisma_migrations.logs)`);
      const id = randomUUID();
      await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ($1, $2, $3)', [id, checksum, name]);
      try {
        await client.query(sql);
      } catch (err) {
        await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, String((err as Error).message)]);
        throw new Error(`migration ${name} failed: ${(err as Error).message}`, { cause: err });
      }
      await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
    await client.end();
  }
  return { applied, alreadyApplied };
}

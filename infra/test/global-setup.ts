import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { MIGRATIONS_DIR, createDatabaseIfMissing, migrate } from '../../packages/db/src/migrate';

/**
 * Tests run against a real Postgres: make sure the test database exists and is migrated. A test
 * database migrated by another checkout (a migration this tree lacks, or one whose file differs)
 * no longer matches this schema, so it is dropped and built again rather than failing tests.
 */
export default async function globalSetup(): Promise<void> {
  const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/reelay_test';
  process.env.DATABASE_URL = url;
  await createDatabaseIfMissing(url);
  if (await migratedElsewhere(url)) await recreate(url);
  await migrate(url);
}

function repoMigrations(): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(MIGRATIONS_DIR, { withFileTypes: true })) {
    const file = join(MIGRATIONS_DIR, e.name, 'migration.sql');
    if (e.isDirectory() && existsSync(file)) out.set(e.name, createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex'));
  }
  return out;
}

async function migratedElsewhere(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const table = await client.query(`SELECT to_regclass('"_prisma_migrations"') AS t`);
    if (!table.rows[0].t) return false;
    const rows = await client.query<{ migration_name: string; checksum: string }>(
      'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const ours = repoMigrations();
    return rows.rows.some((r) => ours.get(r.migration_name) !== r.checksum);
  } finally {
    await client.end();
  }
}

async function recreate(url: string): Promise<void> {
  const admin = new URL(url);
  const name = decodeURIComponent(admin.pathname.slice(1));
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    process.stderr.write(`test database ${name} was migrated by another tree: dropping and migrating it again\n`);
    const quoted = `"${name.replace(/"/g, '""')}"`;
    await client.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoted}`);
  } finally {
    await client.end();
  }
}

import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client, type ClientConfig } from 'pg';
import { clientConfig } from './connection';

/**
 * The driver adapter the Prisma 6 CLI's JavaScript schema engine runs on, so `migrate status`,
 * `migrate deploy` and `migrate diff` work without downloading a native engine. Plain
 * `new PrismaPg(url)` is not enough with @prisma/adapter-pg 6.19; this factory works around:
 * - catalog columns of type `name` (oid 19) and `"char"` (oid 18), which the adapter refuses as
 *   unsupported although the engine's introspection selects them (prisma/orm#27403): read as text;
 * - `executeScript` splitting on every `;` (breaks `DO $$ … $$` bodies and `;` inside strings or
 *   comments): the whole script goes to Postgres as one simple query, like Prisma's native engine
 *   and Reelay's own runner;
 * - the shadow database: the stock factory copies a connection string that still names the main
 *   database (so shadow work would hit it) and drops the shadow while its own pool is still open.
 */
export type Adapter = Awaited<ReturnType<PrismaPg['connect']>>;

const PG_TEXT_OID = 25;
const OIDS_READ_AS_TEXT = new Set([18, 19]);

interface QueryResultFields {
  fields?: { dataTypeID: number }[];
}

let queryablePatched = false;

/** performIO is shared by the adapter and its transactions (class PgQueryable); patch it once. */
function readCatalogTypesAsText(adapter: Adapter): void {
  if (queryablePatched) return;
  const queryable = Object.getPrototypeOf(Object.getPrototypeOf(adapter)) as {
    performIO?: (this: unknown, query: unknown) => Promise<QueryResultFields | QueryResultFields[]>;
  };
  const performIO = queryable.performIO;
  if (typeof performIO !== 'function') {
    throw new Error('@prisma/adapter-pg changed shape: PgQueryable.performIO not found; re-check the workarounds in adapter.ts');
  }
  queryable.performIO = async function (this: unknown, query: unknown) {
    const result = await performIO.call(this, query);
    // A multi-statement script (a migration applied with executeRaw) yields one result per statement.
    for (const each of Array.isArray(result) ? result : [result]) {
      for (const field of each.fields ?? []) if (OIDS_READ_AS_TEXT.has(field.dataTypeID)) field.dataTypeID = PG_TEXT_OID;
    }
    return result;
  };
  queryablePatched = true;
}

function runScriptsWhole(adapter: Adapter): void {
  const pool = adapter.underlyingDriver();
  const onError = (adapter as unknown as { onError(err: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pool.query(script);
    } catch (err) {
      onError(err);
    }
  };
}

async function connected(factory: PrismaPg): Promise<Adapter> {
  const adapter = await factory.connect();
  readCatalogTypesAsText(adapter);
  runScriptsWhole(adapter);
  return adapter;
}

async function onAdminDatabase(config: ClientConfig, sql: string): Promise<void> {
  const admin = new Client({ ...config, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

export class MigrationAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';
  private readonly config: ClientConfig;

  constructor(databaseUrl: string) {
    this.config = clientConfig(databaseUrl);
  }

  connect(): Promise<Adapter> {
    return connected(new PrismaPg(this.poolConfig(this.config)));
  }

  /** The CLI does not always dispose its adapter; idle pooled connections must not hold it open. */
  private poolConfig(config: ClientConfig): ClientConfig & { allowExitOnIdle: boolean } {
    return { ...config, allowExitOnIdle: true };
  }

  async connectToShadowDb(): Promise<Adapter> {
    const database = `prisma_migrate_shadow_db_${randomUUID()}`;
    await onAdminDatabase(this.config, `CREATE DATABASE "${database}"`);
    const adapter = await connected(new PrismaPg(this.poolConfig({ ...this.config, database })));
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await onAdminDatabase(this.config, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    };
    return adapter;
  }
}

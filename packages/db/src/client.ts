import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from './generated/prisma/client';

export type Db = PrismaClient;

const pools = new WeakMap<Db, Pool>();

/**
 * Prisma on the pg driver adapter: no engine binary, works on a machine with no downloads. The pg
 * pool is shared with the few hot-path queries that skip Prisma (see hot-path.ts); $disconnect ends it.
 */
export function createDb(databaseUrl: string, poolSize = 10): Db {
  const pool = new Pool({ connectionString: databaseUrl, max: poolSize });
  pool.on('error', () => undefined); // an idle client dropped by the server; the next query reconnects
  const db = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(db, pool);
  const disconnect = db.$disconnect.bind(db);
  // Prisma only disposes the pool if it ever connected; end it either way.
  db.$disconnect = async () => {
    await disconnect();
    if (!pool.ended) await pool.end().catch(() => undefined);
  };
  return db;
}

/** The pg pool behind a Db made by createDb. */
export function poolOf(db: Db): Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('this Db was not made by createDb');
  return pool;
}

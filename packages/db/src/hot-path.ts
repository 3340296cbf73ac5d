import { createHash } from 'node:crypto';
import { types as pgTypes, type QueryResultRow } from 'pg';
import { poolOf, type Db } from './client';
import type { Task } from './generated/prisma/client';

/**
 * The two queries on the API's hot path (create = one insert, retrieve = one indexed read) go to
 * the pg pool directly: Prisma 7's query layer costs about four times the CPU of the query itself
 * (measured: ~450 µs vs ~120 µs per read), which decides create/retrieve throughput. Rows come back
 * in exactly the shape Prisma returns (camelCase, Date, bigint), so callers cannot tell.
 */
const TIMESTAMP = 1114; // timestamp without time zone: Prisma stores UTC wall time
const INT8 = 20;
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMP) return (s: string) => new Date(`${s.replace(' ', 'T')}Z`);
    if (oid === INT8) return (s: string) => BigInt(s);
    return pgTypes.getTypeParser(oid, format as 'text');
  },
};

const camelNames = new Map<string, string>();
const camel = (s: string): string => {
  let c = camelNames.get(s);
  if (c === undefined) camelNames.set(s, (c = s.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase())));
  return c;
};
const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function toTask(row: QueryResultRow): Task {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[camel(k)] = v;
  return out as Task;
}

function toParam(v: unknown): unknown {
  // An ISO string is UTC wall time; Postgres drops the zone when the column has none, as Prisma does.
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
}

/** A prepared-statement name per query text, so Postgres parses and plans each shape once per connection. */
const statementName = (text: string): string => `reelay_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
const FIND_FOR_OWNER = 'SELECT * FROM tasks WHERE id = $1 AND api_key_id = $2 AND deleted_at IS NULL';
const FIND_FOR_OWNER_NAME = statementName(FIND_FOR_OWNER);

/** Reads a task as its owner sees it: another key's or a deleted task does not exist. */
export async function findTaskForOwner(db: Db, id: string, apiKeyId: string): Promise<Task | null> {
  const res = await poolOf(db).query({
    name: FIND_FOR_OWNER_NAME,
    text: FIND_FOR_OWNER,
    values: [id, apiKeyId],
    types: typeParsers,
  });
  return res.rows[0] ? toTask(res.rows[0]) : null;
}

/** Columns a new task is created with (camelCase, as in the Prisma model); omitted ones take their defaults. */
export type NewTask = Partial<Task> & Pick<Task, 'id' | 'apiKeyId' | 'model' | 'provider' | 'durationSeconds' | 'width' | 'height' | 'fps' | 'seed' | 'expiresAt'>;

/** One INSERT … RETURNING *. A unique violation surfaces as pg's error (code 23505, with its constraint). */
export async function insertTask(db: Db, data: NewTask): Promise<Task> {
  const entries = Object.entries(data).filter(([, v]) => v !== undefined);
  const text = `INSERT INTO tasks (${entries.map(([k]) => `"${snake(k)}"`).join(', ')}) VALUES (${entries.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING *`;
  const res = await poolOf(db).query({
    name: statementName(text),
    text,
    values: entries.map(([, v]) => toParam(v)),
    types: typeParsers,
  });
  return toTask(res.rows[0]!);
}

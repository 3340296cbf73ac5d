import { createHash } from 'node:crypto';
import { types as pgTypes, type QueryResultRow } from 'pg';

/**
 * The small row mapper behind the queries that go to the pg pool directly (the hot paths: Prisma
 * 7's query layer costs about four times the CPU of the query itself). Rows come back in exactly
 * the shape Prisma returns (camelCase, Date, bigint), so callers cannot tell which path read them.
 */
const TIMESTAMP = 1114; // timestamp without time zone: Prisma stores UTC wall time
const INT8 = 20;

/**
 * Postgres's text form of a timestamp ('2026-01-02 03:04:05.678') as UTC, read field by field: a
 * row has a dozen of them and Date's string parser was most of a row's parse time. Anything else
 * (infinity, years before 1000 or after 9999) goes the slow way.
 */
function parseTimestamp(s: string): Date {
  if (s.length >= 19 && s.length <= 26 && s.charCodeAt(4) === 45 && s.charCodeAt(10) === 32 && s.charCodeAt(0) !== 48) {
    const ms = s.length > 20 ? Number(s.slice(20, 23).padEnd(3, '0')) : 0;
    return new Date(Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10), +s.slice(11, 13), +s.slice(14, 16), +s.slice(17, 19), ms));
  }
  return new Date(`${s.replace(' ', 'T')}Z`);
}

/** Pass as `types` on a query so timestamps and bigints parse as Prisma's do. */
export const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMP) return parseTimestamp;
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
const snakeNames = new Map<string, string>();
export const snake = (s: string): string => {
  let c = snakeNames.get(s);
  if (c === undefined) snakeNames.set(s, (c = s.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`)));
  return c;
};

/** A snake_case row as the camelCase object Prisma would return. */
export function fromRow<T>(row: QueryResultRow): T {
  const out: Record<string, unknown> = {};
  for (const k in row) out[camel(k)] = row[k];
  return out as T;
}

/** A value as a query parameter, written the way Prisma writes it. */
export function toParam(v: unknown): unknown {
  // An ISO string is UTC wall time; Postgres drops the zone when the column has none, as Prisma does.
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return v;
}

/** The fields of a new row that are set (an omitted or undefined one takes its column's default). */
export const definedColumns = (data: object): string[] => Object.keys(data).filter((k) => (data as Record<string, unknown>)[k] !== undefined);

/** A row for json_populate_record(set): snake_case names; dates and bigints as toParam writes them; objects stay nested JSON for jsonb columns. */
export function toRecord(data: object): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    if (v !== undefined) record[snake(k)] = v instanceof Date || typeof v === 'bigint' ? toParam(v) : v;
  }
  return record;
}

/** A prepared-statement name per query text, so Postgres parses and plans each shape once per connection. */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) statementNames.set(text, (name = `reelay_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`));
  return name;
}

/** A named statement, ready for pool.query: built once at module load. */
export const statement = (text: string): { name: string; text: string; types: typeof typeParsers } => ({ name: statementName(text), text, types: typeParsers });

import type { Db } from './client';
import { Prisma } from './generated/prisma/client';

export interface UsageRow {
  date: string;
  model: string;
  api_key_id?: string;
  tasks: number;
  completed: number;
  failed: number;
  /** Seconds of video produced by completed tasks. */
  seconds: number;
  /** Settled charges. */
  cost_micros: number;
  /** Estimates still held by tasks that have not ended. */
  reserved_micros: number;
}

/**
 * Usage by UTC day (of creation) and model, for one key or, with byKey, across keys. Deleted
 * tasks still count: they were made and paid for.
 */
export async function usageByDay(db: Db, opts: { from: Date; to: Date; apiKeyId?: string; byKey?: boolean }): Promise<UsageRow[]> {
  const keyColumn = opts.byKey ? Prisma.sql`, api_key_id` : Prisma.empty;
  const keyFilter = opts.apiKeyId ? Prisma.sql`AND api_key_id = ${opts.apiKeyId}` : Prisma.empty;
  const rows = await db.$queryRaw<(UsageRow & { cost_micros: bigint; reserved_micros: bigint })[]>`
    SELECT to_char(date_trunc('day', created_at), 'YYYY-MM-DD') AS date, model ${keyColumn},
      count(*)::int AS tasks,
      (count(*) FILTER (WHERE status = 'completed'))::int AS completed,
      (count(*) FILTER (WHERE status = 'failed'))::int AS failed,
      COALESCE(sum(COALESCE(produced_seconds, duration_seconds * n)) FILTER (WHERE status = 'completed'), 0)::float8 AS seconds,
      COALESCE(sum(cost_micros), 0)::bigint AS cost_micros,
      COALESCE(sum(reserved_micros) FILTER (WHERE billing_status = 'reserved'), 0)::bigint AS reserved_micros
    FROM tasks
    WHERE created_at >= ${opts.from} AND created_at < ${opts.to} ${keyFilter}
    GROUP BY 1, 2 ${keyColumn}
    ORDER BY 1, 2 ${keyColumn}`;
  return rows.map((r) => ({ ...r, cost_micros: Number(r.cost_micros), reserved_micros: Number(r.reserved_micros) }));
}

import type { TaskPhase, TaskStatus } from '@reelay/core';
import type { Db } from '../client';
import { Prisma, type Task } from '../generated/prisma/client';
import { holdsSlotSql, liveSql, waitingSql } from './phase-sql';

/** The filters of the operator's task search (GET /admin/v1/tasks); every one optional, all ANDed. */
export interface AdminTaskFilter {
  phase?: TaskPhase;
  status?: TaskStatus;
  errorCode?: string;
  apiKeyId?: string;
  model?: string;
  /** A catalog target key (provider_target) or a bare provider name. */
  target?: string;
  user?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Words the prompt contains (case-insensitive). */
  promptContains?: string;
  includeDeleted?: boolean;
  /** Tasks made from this batch's lines. */
  batchId?: string;
}

export interface AdminTaskCursor {
  createdAt: Date;
  id: string;
}

export type AdminTaskRow = Task & { keyName: string };

const PHASE_SQL: Record<TaskPhase, string> = {
  waiting: waitingSql('t.'),
  admitted: `t.status = 'pending' AND t.admitted_at IS NOT NULL`,
  processing: `t.status = 'processing'`,
  completed: `t.status = 'completed'`,
  failed: `t.status = 'failed'`,
};

/** `%`, `_` and `\` in a search are matched as themselves. */
const likePattern = (s: string): string => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function whereOf(f: AdminTaskFilter): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (!f.includeDeleted) parts.push(Prisma.sql`t.deleted_at IS NULL`);
  if (f.phase) parts.push(Prisma.raw(PHASE_SQL[f.phase]));
  if (f.status) parts.push(Prisma.sql`t.status = ${f.status}::"TaskStatus"`);
  if (f.errorCode) parts.push(Prisma.sql`t.error_code = ${f.errorCode}`);
  if (f.apiKeyId) parts.push(Prisma.sql`t.api_key_id = ${f.apiKeyId}`);
  if (f.batchId) parts.push(Prisma.sql`t.batch_id = ${f.batchId}`);
  if (f.model) parts.push(Prisma.sql`t.model = ${f.model}`);
  if (f.target) parts.push(Prisma.sql`(t.provider_target = ${f.target} OR (t.provider_target IS NULL AND t.provider = ${f.target}))`);
  if (f.user !== undefined) parts.push(Prisma.sql`t.user = ${f.user}`);
  if (f.createdAfter) parts.push(Prisma.sql`t.created_at >= ${f.createdAfter}`);
  if (f.createdBefore) parts.push(Prisma.sql`t.created_at < ${f.createdBefore}`);
  if (f.promptContains) parts.push(Prisma.sql`t.prompt ILIKE ${likePattern(f.promptContains)}`);
  return parts.length ? Prisma.join(parts, ' AND ') : Prisma.sql`true`;
}

const camelTask = (r: Record<string, unknown>): AdminTaskRow => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] = v;
  return out as AdminTaskRow;
};

/**
 * One page of tasks across every key, newest first, keyset-paginated on (created_at, id), with
 * the number of tasks the filter matches in all (counted apart from the page, cursor ignored).
 */
export async function searchTasks(
  db: Db,
  filter: AdminTaskFilter,
  page: { limit: number; after?: AdminTaskCursor | null },
): Promise<{ tasks: AdminTaskRow[]; total: number; hasMore: boolean }> {
  const where = whereOf(filter);
  const after = page.after ? Prisma.sql`AND (t.created_at, t.id) < (${page.after.createdAt}, ${page.after.id})` : Prisma.empty;
  const [rows, [{ total }]] = await Promise.all([
    db.$queryRaw<Record<string, unknown>[]>`SELECT t.*, k.name AS key_name FROM tasks t JOIN api_keys k ON k.id = t.api_key_id
      WHERE ${where} ${after} ORDER BY t.created_at DESC, t.id DESC LIMIT ${page.limit + 1}`,
    db.$queryRaw<[{ total: number }]>`SELECT count(*)::int AS total FROM tasks t WHERE ${where}`,
  ]);
  return { tasks: rows.slice(0, page.limit).map(camelTask), total, hasMore: rows.length > page.limit };
}

/** Any task by id, deleted or not, with its key's name (the operator sees everything). */
export async function findTaskForOperator(db: Db, id: string): Promise<AdminTaskRow | null> {
  const rows = await db.$queryRaw<Record<string, unknown>[]>`SELECT t.*, k.name AS key_name FROM tasks t
    JOIN api_keys k ON k.id = t.api_key_id WHERE t.id = ${id}`;
  return rows[0] ? camelTask(rows[0]) : null;
}

/** The task ids re-run from this one, oldest first. */
export async function findRetriesOf(db: Db, id: string): Promise<string[]> {
  const rows = await db.task.findMany({ where: { retriedFromId: id }, select: { id: true }, orderBy: { createdAt: 'asc' } });
  return rows.map((r) => r.id);
}

export interface TaskStats {
  phases: Record<TaskPhase, number>;
  byKey: { apiKeyId: string; keyName: string; live: number; waiting: number; completed: number; failed: number }[];
  byTarget: { target: string; live: number; completed: number; failed: number }[];
  lastHour: {
    created: number;
    completed: number;
    failed: number;
    queueSecondsP50: number | null;
    runSecondsP50: number | null;
    totalSecondsP50: number | null;
    totalSecondsP95: number | null;
  };
}

const WAITING_T = Prisma.raw(waitingSql('t.'));
const HOLDS_SLOT_T = Prisma.raw(holdsSlotSql('t.'));

/** What the operator's overview shows: tasks per phase, per key and per target; the last hour's throughput and latency. */
export async function taskStats(db: Db): Promise<TaskStats> {
  const [phases, byKey, byTarget, [hour]] = await Promise.all([
    db.$queryRaw<{ phase: TaskPhase; n: number }[]>`SELECT CASE WHEN ${WAITING_T} THEN 'waiting'
        WHEN t.status = 'pending' THEN 'admitted' ELSE t.status::text END AS phase, count(*)::int AS n
      FROM tasks t WHERE t.deleted_at IS NULL GROUP BY 1`,
    db.$queryRaw<TaskStats['byKey']>`SELECT k.id AS "apiKeyId", k.name AS "keyName",
        count(*) FILTER (WHERE ${HOLDS_SLOT_T})::int AS live, count(*) FILTER (WHERE ${WAITING_T})::int AS waiting,
        count(*) FILTER (WHERE t.status = 'completed')::int AS completed, count(*) FILTER (WHERE t.status = 'failed')::int AS failed
      FROM tasks t JOIN api_keys k ON k.id = t.api_key_id WHERE t.deleted_at IS NULL GROUP BY k.id, k.name ORDER BY k.name, k.id`,
    db.$queryRaw<TaskStats['byTarget']>`SELECT coalesce(t.provider_target, t.provider) AS target,
        count(*) FILTER (WHERE t.status IN ('pending', 'processing'))::int AS live,
        count(*) FILTER (WHERE t.status = 'completed')::int AS completed, count(*) FILTER (WHERE t.status = 'failed')::int AS failed
      FROM tasks t WHERE t.deleted_at IS NULL AND (t.provider_target IS NOT NULL OR t.status <> 'pending') GROUP BY 1 ORDER BY 1`,
    db.$queryRaw<[Record<string, number | null>]>`SELECT
        count(*) FILTER (WHERE t.created_at >= timezone('UTC', now()) - interval '1 hour')::int AS created,
        count(*) FILTER (WHERE t.status = 'completed' AND t.completed_at >= timezone('UTC', now()) - interval '1 hour')::int AS completed,
        count(*) FILTER (WHERE t.status = 'failed' AND t.completed_at >= timezone('UTC', now()) - interval '1 hour')::int AS failed,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.started_at - t.created_at))
          FILTER (WHERE t.started_at >= timezone('UTC', now()) - interval '1 hour') AS queue_p50,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.completed_at - t.started_at))
          FILTER (WHERE t.status = 'completed' AND t.completed_at >= timezone('UTC', now()) - interval '1 hour') AS run_p50,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.completed_at - t.created_at))
          FILTER (WHERE t.status = 'completed' AND t.completed_at >= timezone('UTC', now()) - interval '1 hour') AS total_p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t.completed_at - t.created_at))
          FILTER (WHERE t.status = 'completed' AND t.completed_at >= timezone('UTC', now()) - interval '1 hour') AS total_p95
      FROM tasks t WHERE (t.created_at >= timezone('UTC', now()) - interval '1 hour' OR t.completed_at >= timezone('UTC', now()) - interval '1 hour')`,
  ]);
  const counts = { waiting: 0, admitted: 0, processing: 0, completed: 0, failed: 0 } as Record<TaskPhase, number>;
  for (const p of phases) counts[p.phase] = p.n;
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 1000) / 1000);
  return {
    phases: counts,
    byKey,
    byTarget,
    lastHour: {
      created: hour.created ?? 0,
      completed: hour.completed ?? 0,
      failed: hour.failed ?? 0,
      queueSecondsP50: num(hour.queue_p50),
      runSecondsP50: num(hour.run_p50),
      totalSecondsP50: num(hour.total_p50),
      totalSecondsP95: num(hour.total_p95),
    },
  };
}

/** Live tasks per phase and model, and the age of the oldest one waiting for a slot (for /metrics). */
export async function liveTaskGauges(db: Db): Promise<{ counts: { phase: TaskPhase; model: string; n: number }[]; oldestWaitingSeconds: number }> {
  const [counts, [oldest]] = await Promise.all([
    db.$queryRaw<{ phase: TaskPhase; model: string; n: number }[]>`SELECT CASE WHEN ${WAITING_T} THEN 'waiting'
        WHEN t.status = 'pending' THEN 'admitted' ELSE 'processing' END AS phase, t.model, count(*)::int AS n
      FROM tasks t WHERE ${Prisma.raw(liveSql('t.'))} GROUP BY 1, 2`,
    db.$queryRaw<[{ age: number | null }]>`SELECT extract(epoch FROM timezone('UTC', now()) - min(t.created_at))::float8 AS age
      FROM tasks t WHERE ${WAITING_T}`,
  ]);
  return { counts, oldestWaitingSeconds: Math.max(0, oldest.age ?? 0) };
}

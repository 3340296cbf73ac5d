import { LIVE_STATUSES, type TaskStatus } from '@reelay/core';
import { poolOf, type Db } from '../client';
import type { Task } from '../generated/prisma/client';
import { fromRow, perTurnLoader, statement } from '../pg';
import { videoColumnList, type VideoRow } from './columns';

/**
 * Task reads. The ones on hot paths (the API's retrieve and list, the worker's read before each
 * step) go through the pg pool, the single-row ones batched per event-loop turn; the rest use Prisma.
 */
const FIND_BY_IDS = statement('SELECT * FROM tasks WHERE id = ANY($1::text[])');
/** The video columns as a select list, built once (retrieve and list are hot paths). */
const VIDEO_SELECT = videoColumnList('');
const FIND_VIDEOS_BY_IDS = statement(`SELECT ${VIDEO_SELECT} FROM tasks WHERE id = ANY($1::text[])`);

const taskLoader = perTurnLoader<string, Task | null>((db) => async (ids) => {
  const res = await poolOf(db).query({ ...FIND_BY_IDS, values: [[...new Set(ids)]] });
  const byId = new Map(res.rows.map((r) => [r.id as string, r]));
  return ids.map((id) => (byId.has(id) ? fromRow<Task>(byId.get(id)!) : null));
});
const videoLoader = perTurnLoader<string, VideoRow | null>((db) => async (ids) => {
  const res = await poolOf(db).query({ ...FIND_VIDEOS_BY_IDS, values: [[...new Set(ids)]] });
  const byId = new Map(res.rows.map((r) => [r.id as string, r as VideoRow]));
  return ids.map((id) => byId.get(id) ?? null);
});

/** Reads a task by id whatever its owner or state (the worker's read before each step). */
export function findTaskById(db: Db, id: string): Promise<Task | null> {
  return taskLoader(db).load(id);
}

/** Reads a task as its owner sees it: another key's or a deleted task does not exist. */
export async function findTaskForOwner(db: Db, id: string, apiKeyId: string): Promise<Task | null> {
  const task = await taskLoader(db).load(id);
  return task && task.apiKeyId === apiKeyId && task.deletedAt === null ? task : null;
}

/** findTaskForOwner for showing the video: the same batched, owner-filtered read of VIDEO_COLUMNS only. */
export async function findVideoForOwner(db: Db, id: string, apiKeyId: string): Promise<VideoRow | null> {
  const video = await videoLoader(db).load(id);
  return video && video.apiKeyId === apiKeyId && video.deletedAt === null ? video : null;
}

/** A task that is not deleted, whoever owns it (a signed content link carries its own authorisation). */
export async function findUndeletedTask(db: Db, id: string): Promise<Task | null> {
  const task = await taskLoader(db).load(id);
  return task && task.deletedAt === null ? task : null;
}

/** The task a key created with this Idempotency-Key, deleted or not. */
export function findTaskByIdempotencyKey(db: Db, apiKeyId: string, idempotencyKey: string): Promise<Task | null> {
  return db.task.findUnique({ where: { apiKeyId_idempotencyKey: { apiKeyId, idempotencyKey } } });
}

/** The task an upstream knows by `upstreamId` on the target `targetKey` (upstream webhooks name only their own id). */
export function findTaskByUpstreamId(db: Db, targetKey: string, upstreamId: string): Promise<{ id: string; status: TaskStatus } | null> {
  return db.task.findFirst({ where: { providerTarget: targetKey, upstreamId }, select: { id: true, status: true } });
}

/**
 * Of these upstream ids, those some live task holds (their upstream state must be kept). Any
 * target's task counts: one provider instance may serve several targets, and a shared id only
 * keeps more.
 */
export async function findLiveUpstreamIds(db: Db, upstreamIds: string[]): Promise<Set<string>> {
  if (upstreamIds.length === 0) return new Set();
  const rows = await db.task.findMany({
    where: { upstreamId: { in: upstreamIds }, status: { in: [...LIVE_STATUSES] } },
    select: { upstreamId: true },
  });
  return new Set(rows.map((r) => r.upstreamId!));
}

/** What announcing a task's end needs: its outcome, and where its webhooks go. */
export interface TaskEnd {
  model: string;
  provider: string;
  status: TaskStatus;
  errorCode: string | null;
  callbackUrl: string | null;
  deletedAt: Date | null;
  webhookUrl: string | null;
  apiKeyId: string;
  providerTarget: string | null;
  submitAttempts: number;
  pollCount: number;
  costMicros: bigint | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  batchId: string | null;
}
const TASK_END = statement(`SELECT t.model, t.provider, t.status, t.error_code, t.callback_url, t.deleted_at, k.webhook_url,
    t.api_key_id, t.provider_target, t.submit_attempts, t.poll_count, t.cost_micros, t.created_at, t.started_at, t.completed_at, t.batch_id
  FROM tasks t JOIN api_keys k ON k.id = t.api_key_id WHERE t.id = $1`);

export async function findTaskEnd(db: Db, id: string): Promise<TaskEnd | null> {
  const res = await poolOf(db).query({ ...TASK_END, values: [id] });
  return res.rows[0] ? fromRow<TaskEnd>(res.rows[0]) : null;
}

export interface ListTasksQuery {
  apiKeyId: string;
  limit: number;
  order: 'asc' | 'desc';
  /** Id of the last task of the previous page. */
  after?: { id: string; createdAt: Date } | null;
  status?: TaskStatus;
  user?: string;
  model?: string;
}

/** Where a list page starts: a task of the key (a deleted one still marks its place, so paging survives a delete). */
export function findListCursor(db: Db, apiKeyId: string, id: string): Promise<{ id: string; createdAt: Date } | null> {
  return db.task.findFirst({ where: { id, apiKeyId }, select: { id: true, createdAt: true } });
}

/**
 * One page of a key's own, non-deleted tasks, keyset-paginated on (created_at, id) so it walks
 * the (api_key_id, created_at desc, id desc) index; fetches one extra row to tell has_more. It
 * reads only the video columns, through the pg pool: clients poll lists as they poll retrieves,
 * and through Prisma a page of 24 cost the API about twice the CPU.
 */
export async function listTasks(db: Db, q: ListTasksQuery): Promise<{ tasks: VideoRow[]; hasMore: boolean }> {
  const values: unknown[] = [q.apiKeyId];
  const param = (v: unknown): string => `$${values.push(v)}`;
  const where = ['api_key_id = $1', 'deleted_at IS NULL'];
  if (q.status) where.push(`status = ${param(q.status)}::"TaskStatus"`);
  if (q.user !== undefined) where.push(`"user" = ${param(q.user)}`);
  if (q.model !== undefined) where.push(`model = ${param(q.model)}`);
  if (q.after) {
    // created_at up to the cursor is the index range to seek to; the OR only breaks ties on id.
    const [upTo, beyond] = q.order === 'desc' ? ['<=', '<'] : ['>=', '>'];
    const at = param(q.after.createdAt.toISOString());
    const id = param(q.after.id);
    where.push(`created_at ${upTo} ${at}::timestamp AND (created_at ${beyond} ${at}::timestamp OR id ${beyond} ${id})`);
  }
  const dir = q.order === 'desc' ? 'DESC' : 'ASC';
  const limit = param(q.limit + 1);
  const page = statement(`SELECT ${VIDEO_SELECT} FROM tasks WHERE ${where.join(' AND ')} ORDER BY created_at ${dir}, id ${dir} LIMIT ${limit}`);
  const res = await poolOf(db).query({ ...page, values });
  const rows = res.rows as VideoRow[];
  return { tasks: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

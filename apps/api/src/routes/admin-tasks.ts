import { Router, type Request } from 'express';
import {
  ApiError,
  invalidParameter,
  isIssuedId,
  isLive,
  notFound,
  phaseOf,
  serviceUnavailable,
  TASK_ERROR_CODES,
  TASK_PHASES,
  TASK_STATUSES,
  type TaskPhase,
  type TaskStatus,
} from '@reelay/core';
import {
  failLiveTask,
  findRetriesOf,
  findTaskForOperator,
  listTaskEvents,
  searchTasks,
  taskStats,
  type AdminTaskCursor,
  type AdminTaskFilter,
  type AdminTaskRow,
  type TaskEvent,
} from '@reelay/db';
import { enqueueCancel } from '@reelay/queue';
import type { ApiDeps } from '../deps';
import { contentLinks, publicBaseUrl } from '../services/present-video';
import { retryVideo } from '../services/retry-video';

const LIST_PARAMS = [
  'phase',
  'status',
  'error_code',
  'api_key_id',
  'batch_id',
  'model',
  'target',
  'user',
  'created_after',
  'created_before',
  'q',
  'include_deleted',
  'limit',
  'after',
] as const;
const MAX_LIMIT = 100;
const MAX_TEXT = 200;

/** One query value: a repeated or nested parameter is a 400 naming it. */
function single(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidParameter(name, 'must be given once, as a plain value');
  if (v.length > MAX_TEXT) throw invalidParameter(name, `must be at most ${MAX_TEXT} characters`);
  return v;
}

function oneOf<T extends string>(req: Request, name: string, allowed: readonly T[]): T | undefined {
  const v = single(req, name);
  if (v !== undefined && !allowed.includes(v as T)) throw invalidParameter(name, `must be one of ${allowed.join(', ')}`);
  return v as T | undefined;
}

function date(req: Request, name: string): Date | undefined {
  const v = single(req, name);
  if (v === undefined) return undefined;
  // Unix seconds or an ISO 8601 date/time.
  const d = /^\d{1,11}$/.test(v) ? new Date(Number(v) * 1000) : /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) {
    throw invalidParameter(name, 'must be unix seconds or an ISO 8601 date-time');
  }
  return d;
}

const encodeCursor = (t: { createdAt: Date; id: string }): string => Buffer.from(`${t.createdAt.toISOString()}|${t.id}`).toString('base64url');
function decodeCursor(raw: string): AdminTaskCursor {
  const [at, id, ...rest] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (rest.length || !id || !isIssuedId('vid', id) || Number.isNaN(createdAt.getTime()))
    throw invalidParameter('after', 'must be a next_cursor from a previous page');
  return { createdAt, id };
}

/** The query of GET /admin/v1/tasks as a filter; an unknown or malformed parameter is a 400 naming it. */
function parseTaskSearch(req: Request): { filter: AdminTaskFilter; limit: number; after: AdminTaskCursor | null } {
  for (const name of Object.keys(req.query)) {
    if (!(LIST_PARAMS as readonly string[]).includes(name))
      throw new ApiError(400, 'invalid_parameter', `Unknown parameter: ${name}; known: ${LIST_PARAMS.join(', ')}`, name);
  }
  const apiKeyId = single(req, 'api_key_id');
  if (apiKeyId !== undefined && !isIssuedId('key', apiKeyId)) throw invalidParameter('api_key_id', 'must be an API key id (key_…)');
  const batchId = single(req, 'batch_id');
  if (batchId !== undefined && !isIssuedId('batch', batchId)) throw invalidParameter('batch_id', 'must be a batch id (batch_…)');
  const limitRaw = single(req, 'limit');
  if (limitRaw !== undefined && !/^\d{1,3}$/.test(limitRaw)) throw invalidParameter('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  const limit = limitRaw === undefined ? 20 : Number(limitRaw);
  if (limit < 1 || limit > MAX_LIMIT) throw invalidParameter('limit', `must be an integer from 1 to ${MAX_LIMIT}`);
  const includeDeleted = oneOf(req, 'include_deleted', ['true', 'false'] as const);
  const createdAfter = date(req, 'created_after');
  const createdBefore = date(req, 'created_before');
  if (createdAfter && createdBefore && createdAfter >= createdBefore) throw invalidParameter('created_before', 'must be later than created_after');
  const after = single(req, 'after');
  const text = (name: string): string | undefined => {
    const v = single(req, name);
    if (v !== undefined && v.trim() === '') throw invalidParameter(name, 'must not be empty');
    return v;
  };
  return {
    filter: {
      phase: oneOf<TaskPhase>(req, 'phase', TASK_PHASES),
      status: oneOf<TaskStatus>(req, 'status', TASK_STATUSES),
      errorCode: oneOf(req, 'error_code', TASK_ERROR_CODES),
      apiKeyId,
      batchId,
      model: text('model'),
      target: text('target'),
      user: text('user'),
      createdAfter,
      createdBefore,
      promptContains: text('q'),
      includeDeleted: includeDeleted === 'true',
    },
    limit,
    after: after === undefined ? null : decodeCursor(after),
  };
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** A task as the operator sees it: who owns it, where it ran, what it cost, how long each part took. */
function presentTask(deps: ApiDeps, baseUrl: string, t: AdminTaskRow): Record<string, unknown> {
  const links = contentLinks(deps, baseUrl, t);
  return {
    id: t.id,
    object: 'admin.task',
    api_key_id: t.apiKeyId,
    key_name: t.keyName,
    model: t.model,
    provider: t.provider,
    target: t.providerTarget,
    upstream_model: t.upstreamModel,
    upstream_id: t.upstreamId,
    status: t.status,
    phase: phaseOf(t),
    progress: t.progress,
    prompt: t.prompt,
    user: t.user,
    batch_id: t.batchId ?? null,
    seconds: t.durationSeconds,
    size: `${t.width}x${t.height}`,
    fps: t.fps,
    seed: String(t.seed),
    n: t.n,
    metadata: t.metadata,
    error: t.errorCode ? { code: t.errorCode, message: t.errorMessage } : null,
    submit_rounds: t.submitAttempts,
    poll_count: t.pollCount,
    reserved_micros: Number(t.reservedMicros),
    cost_micros: t.costMicros === null ? null : Number(t.costMicros),
    upstream_cost_usd: t.upstreamCostUsd,
    created_at: iso(t.createdAt),
    admitted_at: iso(t.admittedAt),
    started_at: iso(t.startedAt),
    completed_at: iso(t.completedAt),
    expires_at: iso(t.expiresAt),
    deleted: t.deletedAt !== null,
    queue_seconds: t.startedAt ? (t.startedAt.getTime() - t.createdAt.getTime()) / 1000 : null,
    run_seconds: t.startedAt && t.completedAt ? (t.completedAt.getTime() - t.startedAt.getTime()) / 1000 : null,
    retried_from_id: t.retriedFromId,
    remixed_from_id: t.remixedFromId,
    request_id: t.requestId,
    video_url: links?.video ?? null,
    thumbnail_url: links?.thumbnail ?? null,
  };
}

const presentEvent = (e: TaskEvent): Record<string, unknown> => ({
  at: e.at.toISOString(),
  kind: e.kind,
  target: e.target,
  attempt: e.attempt,
  upstream_id: e.upstreamId,
  progress: e.progress,
  code: e.code,
  message: e.message,
  actor: e.actor,
});

/** /admin/v1/tasks and /admin/v1/stats: every key's tasks, their timelines, cancel and retry. */
export function adminTasksRouter(deps: ApiDeps): Router {
  const router = Router();
  router.param('taskId', (_req, _res, next, id: string) => next(isIssuedId('vid', id) ? undefined : notFound()));
  const load = async (id: string): Promise<AdminTaskRow> => {
    const task = await findTaskForOperator(deps.db, id);
    if (!task) throw notFound();
    return task;
  };
  const detail = async (req: Request, task: AdminTaskRow) => ({
    ...presentTask(deps, publicBaseUrl(deps, req), task),
    retried_by: await findRetriesOf(deps.db, task.id),
    timeline: (await listTaskEvents(deps.db, task.id)).map(presentEvent),
  });

  router.get('/tasks', async (req, res) => {
    const { filter, limit, after } = parseTaskSearch(req);
    const page = await searchTasks(deps.db, filter, { limit, after });
    const baseUrl = publicBaseUrl(deps, req);
    const last = page.tasks.at(-1);
    res.json({
      object: 'list',
      data: page.tasks.map((t) => presentTask(deps, baseUrl, t)),
      total: page.total,
      has_more: page.hasMore,
      next_cursor: page.hasMore && last ? encodeCursor(last) : null,
    });
  });

  router.get('/tasks/:taskId', async (req, res) => {
    res.json(await detail(req, await load(String(req.params.taskId))));
  });

  // The owner's cancel path (stop the upstream through the cancels queue, then fail as cancelled), marked as the operator's.
  router.post('/tasks/:taskId/cancel', async (req, res) => {
    const task = await load(String(req.params.taskId));
    if (!isLive(task.status)) throw new ApiError(409, 'unsupported_operation', `Video ${task.id} is ${task.status}; only a live video can be cancelled`);
    try {
      await enqueueCancel(deps.cancelsQueue, { taskId: task.id });
    } catch {
      throw serviceUnavailable('The task queue is unavailable; the video was not cancelled, try again');
    }
    // A worker may move the task from pending to processing between the two guarded tries: try again while it lives.
    let now = task;
    for (let i = 0; i < 5 && isLive(now.status); i++) {
      if (await failLiveTask(deps.db, task.id, 'cancelled', 'Cancelled by an operator', 'operator')) break;
      now = await load(task.id);
    }
    res.json(await detail(req, await load(task.id)));
  });

  router.post('/tasks/:taskId/retry', async (req, res) => {
    const made = await retryVideo(deps, String(req.params.taskId), String(req.id));
    res.status(201).json(await detail(req, await load(made.id)));
  });

  router.get('/stats', async (_req, res) => {
    const s = await taskStats(deps.db);
    res.json({
      object: 'admin.stats',
      phases: s.phases,
      keys: s.byKey.map((k) => ({ api_key_id: k.apiKeyId, key_name: k.keyName, live: k.live, waiting: k.waiting, completed: k.completed, failed: k.failed })),
      targets: s.byTarget,
      last_hour: {
        created: s.lastHour.created,
        completed: s.lastHour.completed,
        failed: s.lastHour.failed,
        queue_seconds_p50: s.lastHour.queueSecondsP50,
        run_seconds_p50: s.lastHour.runSecondsP50,
        total_seconds_p50: s.lastHour.totalSecondsP50,
        total_seconds_p95: s.lastHour.totalSecondsP95,
      },
    });
  });
  return router;
}

import { Router } from 'express';
import { ApiError } from '@reelay/core';
import { usageByDay, type UsageRow } from '@reelay/db';
import type { ApiDeps } from '../deps';

const DAY_MS = 24 * 3600 * 1000;
const MAX_DAYS = 366;

function parseDay(param: string, raw: unknown): Date | undefined {
  if (raw === undefined) return undefined;
  const day = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw) ? new Date(`${raw}T00:00:00Z`) : null;
  // The round trip refuses days that do not exist (2026-02-31); the years keep Postgres in range.
  if (!day || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== raw || day.getUTCFullYear() < 1970 || day.getUTCFullYear() > 9998) {
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: ${param} must be a date written YYYY-MM-DD, from 1970 to 9998`, param);
  }
  return day;
}

/** from..to (UTC days, both included; default the last 30 days), checked and named in 400s. */
export function parseUsageRange(query: Record<string, unknown>): { from: Date; to: Date } {
  const today = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
  const to = parseDay('to', query.to) ?? today;
  const from = parseDay('from', query.from) ?? new Date(to.getTime() - 29 * DAY_MS);
  if (from > to) throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: from must not be after to', 'from');
  if ((to.getTime() - from.getTime()) / DAY_MS >= MAX_DAYS) {
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: from..to must span at most ${MAX_DAYS} days`, 'from');
  }
  return { from, to: new Date(to.getTime() + DAY_MS) };
}

export function usageBody(range: { from: Date; to: Date }, rows: UsageRow[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object: 'usage',
    ...extra,
    from: range.from.toISOString().slice(0, 10),
    to: new Date(range.to.getTime() - DAY_MS).toISOString().slice(0, 10),
    data: rows,
    total: {
      tasks: rows.reduce((s, r) => s + r.tasks, 0),
      seconds: rows.reduce((s, r) => s + r.seconds, 0),
      cost_micros: rows.reduce((s, r) => s + r.cost_micros, 0),
    },
  };
}

/** GET /v1/usage: the calling key's own usage by day and model; never another key's. */
export function usageRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const range = parseUsageRange(req.query);
    const rows = await usageByDay(deps.db, { ...range, apiKeyId: req.apiKey.id });
    res.json(usageBody(range, rows, { api_key_id: req.apiKey.id }));
  });
  return router;
}

import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router, type Express, type NextFunction, type Request, type Response } from 'express';
import { ApiError, serviceUnavailable } from '@reelay/core';
import type { Logger } from '@reelay/observability';
import type { ApiDeps } from '../deps';

export const DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board's error body (`{"error": {"key": "ERRORS.JOB_NOT_FOUND"}, ...}`, a translation key
 * for its own UI) as the API's one error shape: the key in words as the message, the status kept.
 */
function dashboardError(status: number, body: unknown, redisDown = false): ApiError {
  const b = (body ?? {}) as { error?: { key?: unknown } | string; message?: unknown };
  const key = typeof b.error === 'object' && typeof b.error?.key === 'string' ? b.error.key : '';
  const words = key
    .replace(/^ERRORS\./, '')
    .toLowerCase()
    .replace(/_/g, ' ');
  const what = words ? `${words[0]!.toUpperCase()}${words.slice(1)}` : 'Request failed';
  if (status >= 500) {
    if (redisDown || /REDIS/.test(key)) return serviceUnavailable('Queue dashboard: Redis is unavailable; try again shortly');
    return new ApiError(500, 'internal_error', 'Internal error');
  }
  if (status === 404) return new ApiError(404, 'not_found', `Queue dashboard: ${what}`);
  if (status === 413) return new ApiError(413, 'payload_too_large', 'Queue dashboard: request body too large');
  if (status === 415) return new ApiError(415, 'unsupported_media_type', 'Queue dashboard: unsupported request body encoding');
  // A thrown error of body-parser (bad JSON) carries no key of its own.
  if (status === 400 && key === 'ERRORS.INTERNAL_SERVER_ERROR') return new ApiError(400, 'invalid_json', 'Request body is not valid JSON');
  if (status === 403 || status === 405) return new ApiError(status, 'unsupported_operation', `Queue dashboard: ${what}`);
  return new ApiError(status, 'invalid_parameter', `Queue dashboard: ${what}`);
}

/** Every answer of the board at 4xx/5xx leaves in the API's error shape; the board's own detail goes to the log. */
const reshapeErrors =
  (logger: Logger, redis: ApiDeps['redis']) =>
  (req: Request, res: Response, next: NextFunction): void => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if (res.statusCode < 400) return json(body);
      const err = dashboardError(res.statusCode, body, redis.status !== 'ready');
      if (err.status >= 500) logger.error({ body, reqId: req.id }, 'queue dashboard failed');
      res.status(err.status);
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
      return json(err.toBody());
    };
    next();
  };

/**
 * bull-board's page links a web font from fonts.googleapis.com; the board's own CSS falls back to
 * the system fonts, so the link is dropped and the page loads nothing from outside the machine.
 */
function localPageOnly(_req: Request, res: Response, next: NextFunction): void {
  const render = res.render.bind(res);
  res.render = ((view: string, options?: object) => {
    render(view, options ?? {}, (err: Error | null, html: string) => {
      if (err) return next(err);
      res.type('html').send(html.replace(/<link[^>]+href="https?:\/\/[^"]*"[^>]*>/g, ''));
    });
  }) as Response['render'];
  next();
}

/** bull-board over every Reelay queue; read-only unless REELAY_DASHBOARD_WRITE=true. */
export function dashboardRouter(deps: ApiDeps): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  const readOnlyMode = !deps.config.REELAY_DASHBOARD_WRITE;
  createBullBoard({
    queues: deps.queues.map((q) => new BullMQAdapter(q, { readOnlyMode })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Reelay queues',
        // A banner on every page says what the board may do; the header links lead to Reelay's own pages.
        environment: readOnlyMode
          ? { label: 'Read-only: cancel or retry tasks in the console', color: '#7a5b00', textColor: '#fff6d6' }
          : { label: 'Write actions enabled (REELAY_DASHBOARD_WRITE)', color: '#8a1c1c', textColor: '#ffffff' },
        miscLinks: [
          { text: 'Console', url: '/console' },
          { text: 'API docs', url: '/docs' },
        ],
        hideDocsLink: true,
      },
    },
  });
  // The board is an Express app of its own, with Express's defaults: no x-powered-by from it either.
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  const router = Router();
  router.use(reshapeErrors(deps.logger, deps.redis), localPageOnly, board);
  return router;
}

import cors from 'cors';
import express, { type Express } from 'express';
import { ApiError, assertSafeInput } from '@reelay/core';
import type { ApiDeps } from './deps';
import { accessLog } from './middleware/access-log';
import { requireAdmin } from './middleware/admin-auth';
import { requireApiKey } from './middleware/auth';
import { errorHandler } from './middleware/errors';
import { weakEtag } from './middleware/etag';
import { rateLimitByKey } from './middleware/rate-limit';
import { requestId } from './middleware/request-id';
import { upstreamWebhooksRouter } from './routes/upstream-webhooks';
import { adminRouter } from './routes/admin';
import { usageRouter } from './routes/usage';
import { httpMetrics } from './middleware/http-metrics';
import { labelMount } from './middleware/route-template';
import { DASHBOARD_PATH, dashboardRouter } from './routes/dashboard';
import { opsRouter } from './routes/ops';
import { modelsRouter } from './routes/models';
import { docsRouter } from './routes/docs';
import { consoleRouter } from './routes/console';
import { videosRouter } from './routes/videos';
import { batchesRouter } from './routes/batches';
import { filesRouter } from './routes/files';

/** The HTTP app; main.ts gives it real connections, tests give it theirs. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.REELAY_TRUST_PROXY);
  app.set('etag', weakEtag);
  app.use(requestId);
  const log = accessLog(deps.logger);
  if (log) app.use(log);
  app.use(httpMetrics);
  // Query values are checked like bodies: NUL, lone surrogates and deep nesting are a 400 at the edge.
  app.use((req, _res, next) => {
    try {
      assertSafeInput(req.query);
      next();
    } catch (err) {
      next(err);
    }
  });

  // The API first, videos first: create and retrieve are what clients hammer, so they meet the
  // fewest layers (each router level and middleware showed in the profile under load).
  const authenticate = [requireApiKey(deps), rateLimitByKey(deps)];
  // Browsers may call the API from other origins: it authenticates by bearer key, never by cookie.
  // Only /v1: the admin API and the console keep the same-origin rule.
  app.use('/v1', corsForApi(deps.config.REELAY_CORS_ORIGINS));
  app.use('/v1/videos', labelMount, videosRouter(deps, authenticate));
  // Before the API key check: upstreams authenticate with their signature instead.
  app.use('/v1/upstream-webhooks', labelMount, upstreamWebhooksRouter(deps));
  app.use('/v1', labelMount, authenticate);
  app.use('/v1/models', modelsRouter(deps));
  app.use('/v1/usage', usageRouter(deps));
  app.use('/v1/files', filesRouter(deps));
  app.use('/v1/batches', batchesRouter(deps));

  app.use('/admin/v1', labelMount, adminRouter(deps));
  app.use(opsRouter(deps));
  app.use('/console', labelMount, requireAdmin(deps.config.REELAY_ADMIN_TOKEN), consoleRouter(deps));
  app.use(DASHBOARD_PATH, labelMount, requireAdmin(deps.config.REELAY_ADMIN_TOKEN), dashboardRouter(deps));
  // The API description and its browsable page need no key.
  app.use(docsRouter(deps));

  app.use((req, _res, next) => next(new ApiError(404, 'not_found', `No route for ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger, deps.config.REELAY_MAX_BODY_BYTES, deps.config.REELAY_MAX_IMAGE_BYTES));
  return app;
}

/** CORS for /v1/* with the `cors` package: preflights answered (204) before auth, no credentials. */
function corsForApi(setting: string): express.RequestHandler {
  const origins = setting.trim() === '*' ? '*' : setting.split(',').map((o) => o.trim().replace(/\/+$/, ''));
  return cors({
    origin: origins,
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    credentials: false,
    // Headers a browser client reads: pacing, retries, request ids, idempotent replays, ranges.
    exposedHeaders: ['x-request-id', 'openai-poll-after-ms', 'retry-after', 'idempotent-replayed', 'content-range', 'content-length', 'etag'],
    maxAge: 600,
  });
}

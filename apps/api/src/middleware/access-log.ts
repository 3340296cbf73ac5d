import type { NextFunction, Request, Response } from 'express';
import { serializeRequest, type Logger } from '@reelay/observability';
import { routeTemplateOf } from './route-template';

// Probes and scrapes every few seconds would drown the request log.
const UNLOGGED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One short access line per request, at info (5xx at error): request id, method, path (never the
 * query: a signed content link carries its signature there), route template, status, the error
 * code of a 4xx/5xx, the API key's id (never its secret) and the time taken. The request's headers
 * are logged only at debug, through pino's serialiser (credentials redacted by the logger). Below
 * info there is no middleware at all (null).
 */
export function accessLog(logger: Logger): ((req: Request, res: Response, next: NextFunction) => void) | null {
  if (!logger.isLevelEnabled('info')) return null;
  const withHeaders = logger.isLevelEnabled('debug');
  return (req: Request, res: Response, next: NextFunction): void => {
    if (UNLOGGED.has(req.path)) return next();
    const started = Date.now();
    res.once('close', () => {
      const line = {
        req: withHeaders ? serializeRequest(req) : { id: req.id, method: req.method, url: req.originalUrl.split('?')[0] },
        route: routeTemplateOf(req, res),
        status: res.statusCode,
        errorCode: (res.locals.errorCode as string | undefined) ?? undefined,
        keyId: req.apiKey?.id,
        responseTime: Date.now() - started,
      };
      if (!res.writableFinished) logger.info(line, 'request aborted');
      else if (res.statusCode >= 500) logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    });
    next();
  };
}

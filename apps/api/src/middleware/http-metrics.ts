import type { NextFunction, Request, Response } from 'express';
import { httpRequestDuration } from '@reelay/observability';
import { routeTemplateOf, trackRouteTemplate } from './route-template';

/** Latency per matched route template (see route-template.ts). */
export function httpMetrics(req: Request, res: Response, next: NextFunction): void {
  const end = httpRequestDuration.startTimer();
  trackRouteTemplate(req, res);
  res.once('finish', () => {
    end({ method: req.method, route: routeTemplateOf(req, res), status: String(res.statusCode) });
  });
  next();
}

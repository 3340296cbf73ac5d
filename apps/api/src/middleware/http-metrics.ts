import type { NextFunction, Request, Response } from 'express';
import { httpRequestDuration } from '@reelay/observability';

/** Latency per matched route pattern (never the raw path: ids would explode the label set). */
export function httpMetrics(req: Request, res: Response, next: NextFunction): void {
  const end = httpRequestDuration.startTimer();
  res.once('finish', () => {
    const route = req.route?.path !== undefined ? `${req.baseUrl}${String(req.route.path)}` : req.baseUrl || 'unmatched';
    end({ method: req.method, route, status: String(res.statusCode) });
  });
  next();
}

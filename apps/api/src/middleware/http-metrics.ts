import type { NextFunction, Request, Response } from 'express';
import { httpRequestDuration } from '@reelay/observability';

/** Latency per matched route pattern (never the raw path: ids would explode the label set). */
export function httpMetrics(req: Request, res: Response, next: NextFunction): void {
  const end = httpRequestDuration.startTimer();
  res.once('finish', () => {
    // Mounted routers with several patterns (the dashboard) are labelled by their mount point.
    const pattern: unknown = req.route?.path;
    const route = typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : req.baseUrl || 'unmatched';
    end({ method: req.method, route, status: String(res.statusCode) });
  });
  next();
}

import type { Request, Response } from 'express';

/**
 * The route template a request matched (`/v1/videos/:id`), kept on res.locals at the moment the
 * router matches it: by the time the response ends, an error handler mounted on the app has reset
 * req.baseUrl, and a 4xx from POST /v1/videos would otherwise be labelled `/`. Requests no route
 * matched are labelled by the mount point they reached, or `unmatched`.
 */
export function trackRouteTemplate(req: Request, res: Response): void {
  let route: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (r: { path?: unknown } | undefined) => {
      route = r;
      if (r && typeof r.path === 'string') res.locals.routeTemplate = `${req.baseUrl}${r.path}`;
    },
  });
}

/** First middleware of a mounted router: a request that fails before any of its routes matches is labelled by this mount point. */
export function labelMount(req: Request, res: Response, next: () => void): void {
  res.locals.mount ??= req.baseUrl;
  next();
}

/** The template for labels and logs (never the raw path: ids would explode a label set). */
export const routeTemplateOf = (req: Request, res: Response): string =>
  (res.locals.routeTemplate as string | undefined) ?? (res.locals.mount as string | undefined) ?? (req.baseUrl || 'unmatched');

import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiError } from '@reelay/core';
import type { ApiDeps } from '../deps';

const WINDOW_SECONDS = 60;

/**
 * Per-key request rate limit (api_keys.rate_limit_per_minute), counted in Redis so every API
 * process shares one budget per key. rate-limiter-flexible does the counting atomically in Redis
 * and reports remaining points and time to reset for the headers; if Redis stops answering it
 * falls back to a per-process in-memory limiter instead of failing requests.
 */
export function rateLimitByKey(deps: ApiDeps) {
  const limiters = new Map<number, RateLimiterRedis>();
  const limiterFor = (points: number): RateLimiterRedis => {
    let limiter = limiters.get(points);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        storeClient: deps.redis,
        keyPrefix: `${deps.config.REELAY_QUEUE_PREFIX}:ratelimit:${points}`,
        points,
        duration: WINDOW_SECONDS,
        insuranceLimiter: new RateLimiterMemory({ points, duration: WINDOW_SECONDS }),
      });
      limiters.set(points, limiter);
    }
    return limiter;
  };

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const points = req.apiKey.rateLimitPerMinute;
    if (!points) return next();
    const setHeaders = (r: RateLimiterRes): Record<string, string> => {
      const headers = {
        'x-ratelimit-limit': String(points),
        'x-ratelimit-remaining': String(Math.max(0, r.remainingPoints)),
        'x-ratelimit-reset': String(Math.ceil(r.msBeforeNext / 1000)),
      };
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      return headers;
    };
    try {
      setHeaders(await limiterFor(points).consume(req.apiKey.id));
      next();
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return next(err);
      const headers = setHeaders(err);
      next(
        new ApiError(
          429,
          'rate_limit_exceeded',
          `Rate limit of ${points} requests per minute reached for this API key; retry in ${headers['x-ratelimit-reset']} s`,
          null,
          {
            ...headers,
            'retry-after': headers['x-ratelimit-reset']!,
          },
        ),
      );
    }
  };
}

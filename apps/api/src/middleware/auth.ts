import type { NextFunction, Request, Response } from 'express';
import { ApiError } from '@reelay/core';
import type { ApiKey } from '@reelay/db';
import type { ApiDeps } from '../deps';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      apiKey: ApiKey;
    }
  }
}

/** Bearer API key → the key's record; a missing, unknown or revoked key is a 401. */
export function requireApiKey(deps: ApiDeps) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      return next(new ApiError(401, 'invalid_api_key', 'Missing API key: send "Authorization: Bearer <key>"'));
    }
    try {
      const key = await deps.apiKeys.find(match[1]!);
      if (!key) return next(new ApiError(401, 'invalid_api_key', 'Invalid API key'));
      req.apiKey = key;
      next();
    } catch (err) {
      next(err);
    }
  };
}

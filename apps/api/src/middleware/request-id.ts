import type { NextFunction, Request, Response } from 'express';
import { newId } from '@reelay/core';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string;
    }
  }
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a sane client x-request-id, or makes one; every response carries it. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.header('x-request-id');
  req.id = given && SAFE_ID.test(given) ? given : newId('req');
  res.setHeader('x-request-id', req.id);
  next();
}

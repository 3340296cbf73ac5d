import { timingSafeEqual, createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const same = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

/**
 * Operator-only routes: `Authorization: Bearer <REELAY_ADMIN_TOKEN>` for scripts, or HTTP Basic
 * with any user name and the token as password, so a browser can open the dashboard. With no
 * token configured the routes are closed to everyone.
 */
export function requireAdmin(token: string | undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.header('authorization') ?? '';
    let given: string | undefined;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (bearer) given = bearer[1];
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      given = decoded.slice(decoded.indexOf(':') + 1);
    }
    if (token && given !== undefined && same(given, token)) return next();
    res.setHeader('www-authenticate', 'Basic realm="reelay-admin", charset="UTF-8"');
    res.status(401).json({
      error: {
        message: token
          ? 'Admin authentication required: Bearer REELAY_ADMIN_TOKEN, or Basic with it as password'
          : 'Admin routes are disabled: REELAY_ADMIN_TOKEN is not set',
        code: 'invalid_admin_token',
        type: 'invalid_request_error',
        param: null,
      },
    });
  };
}

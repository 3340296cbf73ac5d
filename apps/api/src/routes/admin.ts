import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { ApiError, isIssuedId, parseKeySettings } from '@reelay/core';
import { createApiKey, findApiKeyById, listApiKeys, presentApiKey, revokeApiKey, updateApiKey, usageByDay } from '@reelay/db';
import { invalidateApiKeyCache } from '@reelay/queue';
import type { ApiDeps } from '../deps';
import { jsonBody } from '../middleware/body';
import { parseUsageRange, usageBody } from './usage';
import { adminTasksRouter } from './admin-tasks';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Bearer REELAY_ADMIN_TOKEN, compared in constant time (both sides hashed to equal length first).
 * Without a configured token the admin API does not exist: 404, as for any unknown route.
 */
function requireAdminToken(deps: ApiDeps) {
  const expected = deps.config.REELAY_ADMIN_TOKEN ? digest(deps.config.REELAY_ADMIN_TOKEN) : null;
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!expected) return next(new ApiError(404, 'not_found', `No route for ${req.method} ${req.originalUrl.split('?')[0]}`));
    const header = req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    // HTTP Basic with the token as password too: the console's pages call this API from a browser.
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1];
    const decoded = basic ? Buffer.from(basic, 'base64').toString('utf8') : undefined;
    const given = bearer ?? (decoded !== undefined ? decoded.slice(decoded.indexOf(':') + 1) : undefined);
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      return next(new ApiError(401, 'invalid_api_key', 'Invalid admin token: send "Authorization: Bearer <REELAY_ADMIN_TOKEN>"'));
    }
    next();
  };
}

/** /admin/v1: create, list, update and revoke API keys; usage across keys. */
export function adminRouter(deps: ApiDeps): Router {
  const router = Router();
  const knownModels = () => deps.catalog.list().map((m) => m.id);
  // API processes that cache keys drop their cache on this signal, so the change applies on the next request.
  const keysChanged = () => invalidateApiKeyCache(deps.redis, deps.config.REELAY_QUEUE_PREFIX).catch(() => undefined);
  router.use(requireAdminToken(deps));
  router.use(jsonBody('64kb'));
  router.use(adminTasksRouter(deps));
  // A key id of the wrong form names no key: 404 before any query.
  router.param('id', (_req, _res, next, id: string) =>
    next(isIssuedId('key', id) ? undefined : new ApiError(404, 'not_found', 'No API key found with that id')),
  );

  router.post('/keys', async (req, res) => {
    const settings = parseKeySettings(req.body, { requireName: true, knownModels: knownModels() });
    const { key, secret } = await createApiKey(deps.db, { ...settings, name: settings.name! });
    // The key (and a generated webhook secret) are shown here once; only the key's hash is kept.
    res.status(201).json({
      ...presentApiKey(key),
      key: secret,
      ...(key.webhookSecret && !settings.webhook_secret ? { webhook_secret: key.webhookSecret } : {}),
    });
  });

  router.get('/keys', async (_req, res) => {
    const keys = await listApiKeys(deps.db);
    res.json({ object: 'list', data: keys.map(presentApiKey) });
  });

  router.get('/keys/:id', async (req, res) => {
    const key = await findApiKeyById(deps.db, String(req.params.id));
    if (!key) throw new ApiError(404, 'not_found', 'No API key found with that id');
    res.json(presentApiKey(key));
  });

  router.patch('/keys/:id', async (req, res) => {
    const settings = parseKeySettings(req.body, { requireName: false, knownModels: knownModels() });
    const key = await updateApiKey(deps.db, String(req.params.id), settings);
    if (!key) throw new ApiError(404, 'not_found', 'No API key found with that id');
    await keysChanged();
    res.json(presentApiKey(key));
  });

  const revoke = async (req: Request, res: Response) => {
    const key = await revokeApiKey(deps.db, String(req.params.id));
    if (!key) throw new ApiError(404, 'not_found', 'No API key found with that id');
    await keysChanged();
    res.json(presentApiKey(key));
  };
  router.post('/keys/:id/revoke', revoke);
  router.delete('/keys/:id', revoke);

  router.get('/usage', async (req, res) => {
    const range = parseUsageRange(req.query);
    const raw = req.query.api_key_id;
    if (raw !== undefined && !isIssuedId('key', raw))
      throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: api_key_id must be an API key id (key_…)', 'api_key_id');
    const apiKeyId = raw;
    const rows = await usageByDay(deps.db, { ...range, apiKeyId, byKey: true });
    res.json(usageBody(range, rows, apiKeyId ? { api_key_id: apiKeyId } : {}));
  });

  return router;
}

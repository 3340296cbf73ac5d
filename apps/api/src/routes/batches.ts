import { Router } from 'express';
import { ApiError, invalidParameter, isIssuedId, listBatchesQuerySchema, parseBody } from '@reelay/core';
import { findBatchForOwner, listBatches, moveBatch } from '@reelay/db';
import { promoteBatch } from '@reelay/queue';
import type { ApiDeps } from '../deps';
import { jsonBody } from '../middleware/body';
import { createBatch, presentBatch } from '../services/create-batch';

const batchNotFound = (): ApiError => new ApiError(404, 'not_found', 'No batch found with that id');

/** /v1/batches: OpenAI's Batch API for endpoint /v1/videos; a batch belongs to the key that made it. */
export function batchesRouter(deps: ApiDeps): Router {
  const router = Router();
  router.param('id', (_req, _res, next, id: string) => next(isIssuedId('batch', id) ? undefined : batchNotFound()));
  const body = jsonBody(64 * 1024);

  router.post('/', body, async (req, res) => {
    const { batch, replayed } = await createBatch(deps, req, req.body ?? {});
    if (replayed) res.setHeader('idempotent-replayed', 'true');
    res.json(await presentBatch(deps, batch));
  });

  router.get('/', async (req, res) => {
    const q = parseBody(listBatchesQuerySchema, { ...(req.query as object) });
    const page = await listBatches(deps.db, { apiKeyId: req.apiKey.id, after: q.after, limit: q.limit ?? 20 });
    if (!page) throw invalidParameter('after', 'must be the id of one of your batches');
    const data = await Promise.all(page.batches.map((b) => presentBatch(deps, b)));
    res.json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore });
  });

  router.get('/:id', async (req, res) => {
    const batch = await findBatchForOwner(deps.db, String(req.params.id), req.apiKey.id);
    if (!batch) throw batchNotFound();
    res.json(await presentBatch(deps, batch));
  });

  router.post('/:id/cancel', async (req, res) => {
    const id = String(req.params.id);
    const batch = await findBatchForOwner(deps.db, id, req.apiKey.id);
    if (!batch) throw batchNotFound();
    const moved = await moveBatch(deps.db, id, ['validating', 'in_progress'], 'cancelling', { cancellingAt: new Date() });
    const now = (await findBatchForOwner(deps.db, id, req.apiKey.id))!;
    if (!moved && now.status !== 'cancelling' && now.status !== 'cancelled') {
      throw new ApiError(409, 'batch_not_cancellable', `Batch ${id} is ${now.status} and can no longer be cancelled`);
    }
    // The batch's job is waiting out its delay: wake it so the cancel happens now.
    await promoteBatch(deps.batchesQueue, id).catch(() => undefined);
    res.json(await presentBatch(deps, now));
  });
  return router;
}

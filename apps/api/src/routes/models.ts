import { Router } from 'express';
import { ApiError } from '@reelay/core';
import type { ApiDeps } from '../deps';
import { toModelObject } from '../services/present-model';

export function modelsRouter(deps: ApiDeps): Router {
  const router = Router();
  // The catalog is read once at start; its load time is the models' creation time.
  const created = Math.floor(Date.now() / 1000);

  router.get('/', (_req, res) => {
    res.json({ object: 'list', data: deps.catalog.list().map((m) => toModelObject(m, created)) });
  });

  router.get('/:id', (req, res) => {
    const model = deps.catalog.get(String(req.params.id));
    if (!model) throw new ApiError(404, 'not_found', `No model found with id ${String(req.params.id)}`, 'model');
    res.json(toModelObject(model, created));
  });

  return router;
}

import { Router } from 'express';
import { ApiError, invalidParameter, isFileId, listFilesQuerySchema, parseBody } from '@reelay/core';
import { findFileForOwner, listFiles, markFileDeleted } from '@reelay/db';
import type { ApiDeps } from '../deps';
import { presentFile, uploadFile } from '../services/upload-file';

const fileNotFound = (): ApiError => new ApiError(404, 'not_found', 'No file found with that id');

/** /v1/files: OpenAI's Files API; every file belongs to the key that uploaded it (404 for any other). */
export function filesRouter(deps: ApiDeps): Router {
  const router = Router();
  router.param('id', (_req, _res, next, id: string) => next(isFileId(id) ? undefined : fileNotFound()));

  router.post('/', async (req, res) => {
    const { file, replayed } = await uploadFile(deps, req);
    if (replayed) res.setHeader('idempotent-replayed', 'true');
    res.json(presentFile(file));
  });

  router.get('/', async (req, res) => {
    const q = parseBody(listFilesQuerySchema, { ...(req.query as object) });
    const page = await listFiles(deps.db, { apiKeyId: req.apiKey.id, purpose: q.purpose, after: q.after, limit: q.limit ?? 10_000, order: q.order ?? 'desc' });
    if (!page) throw invalidParameter('after', 'must be the id of one of your files');
    const data = page.files.map(presentFile);
    res.json({ object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: page.hasMore });
  });

  router.get('/:id', async (req, res) => {
    const file = await findFileForOwner(deps.db, String(req.params.id), req.apiKey.id);
    if (!file) throw fileNotFound();
    res.json(presentFile(file));
  });

  router.get('/:id/content', async (req, res) => {
    const file = await findFileForOwner(deps.db, String(req.params.id), req.apiKey.id);
    const size = file ? await deps.storage.size(file.storageKey) : null;
    if (!file || size === null) throw fileNotFound();
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(size));
    res.setHeader('content-disposition', `attachment; filename="${file.filename.replace(/["\\\r\n]/g, '_')}"`);
    const stream = deps.storage.read(file.storageKey);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });

  router.delete('/:id', async (req, res) => {
    const id = String(req.params.id);
    const file = await findFileForOwner(deps.db, id, req.apiKey.id);
    if (!file || !(await markFileDeleted(deps.db, id, req.apiKey.id))) throw fileNotFound();
    await deps.storage.remove(file.storageKey);
    res.json({ id, object: 'file', deleted: true });
  });
  return router;
}

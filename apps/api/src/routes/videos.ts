import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import rangeParser from 'range-parser';
import {
  ApiError,
  createCharacterBodySchema,
  editVideoBodySchema,
  extendVideoBodySchema,
  invalidParameter,
  isIssuedId,
  isLive,
  listVideosQuerySchema,
  notFound,
  parseBody,
  parseCreateRequest,
  remixVideoBodySchema,
  verifyContentGrant,
  type ContentVariant,
} from '@reelay/core';
import { findListCursor, findTaskForOwner, findTaskOutput, findUndeletedTask, findVideoForOwner, listTasks, type Task, type TaskOutput } from '@reelay/db';
import type { ApiDeps } from '../deps';
import { createBodyParser } from '../middleware/body';
import { createVideo } from '../services/create-video';
import { deleteVideo } from '../services/delete-video';
import { createOnce, idempotencyClaim } from '../services/idempotency';
import { createCharacterFromVideo, getCharacter, presentCharacter } from '../services/characters';
import { createFromSource } from '../services/source-video';
import { remixVideo } from '../services/remix-video';
import { presentVideo, presentVideoWithResult, publicBaseUrl } from '../services/present-video';

const VARIANTS = ['video', 'thumbnail', 'spritesheet'] as const;
/** How long a presigned URL handed out by REELAY_CONTENT_DELIVERY=redirect stays valid. */
const PRESIGNED_URL_SECONDS = 15 * 60;
type Variant = (typeof VARIANTS)[number];

/** /v1/videos: signed content links first (they carry their own authorisation), then `authenticate`, then the API. */
export function videosRouter(deps: ApiDeps, authenticate: RequestHandler[]): Router {
  const router = Router();
  const { config } = deps;
  // A video id of the wrong form names no video: 404 before any query, so it can never reach (and
  // fail) a statement shared with other requests.
  router.param('id', (_req, _res, next, id: string) => next(isIssuedId('vid', id) ? undefined : notFound()));
  router.get('/:id/content', signedContent(deps));
  router.use(authenticate);
  const limits = {
    maxPromptChars: config.REELAY_MAX_PROMPT_CHARS,
    maxImageBytes: config.REELAY_MAX_IMAGE_BYTES,
    maxImagePixels: config.REELAY_MAX_IMAGE_PIXELS,
  };

  const bodyParser = createBodyParser({ maxBodyBytes: config.REELAY_MAX_BODY_BYTES, maxImageBytes: config.REELAY_MAX_IMAGE_BYTES });
  const videoBodyParser = createBodyParser({
    maxBodyBytes: config.REELAY_MAX_BODY_BYTES,
    maxImageBytes: config.REELAY_MAX_IMAGE_BYTES,
    maxVideoBytes: config.REELAY_MAX_VIDEO_UPLOAD_BYTES,
  });
  /** openai-poll-after-ms on a video still running: when its next upstream poll is due (openai-python's create_and_poll waits this long). */
  const pollAfter = (res: Response, task: { status: string; nextPollAt: Date | null }): void => {
    if (!isLive(task.status)) return;
    const due = task.nextPollAt ? task.nextPollAt.getTime() - Date.now() : config.POLL_MIN_MS;
    res.setHeader('openai-poll-after-ms', String(Math.round(Math.min(Math.max(due, config.POLL_MIN_MS, 100), Math.max(config.POLL_MAX_MS, 100)))));
  };

  router.post('/', bodyParser, async (req, res) => {
    const { body, upload } = req.createBody!;
    // Validate first: a rejected request never claims its Idempotency-Key.
    const input = parseCreateRequest(body, deps.catalog, limits, upload);
    const claim = idempotencyClaim(req, req.createBody!);
    const create = () => createVideo(deps, req.apiKey, input, String(req.id), claim);
    const { task, replayed } = claim ? await createOnce(deps, req.apiKey.id, claim, create) : { task: await create(), replayed: false };
    if (replayed) res.setHeader('idempotent-replayed', 'true');
    pollAfter(res, task);
    res.status(200).json(await presentVideoWithResult(deps, req, task));
  });

  // Fixed paths (edits, extensions, characters) never match the `:id` routes below, whose param
  // check would answer them 404.
  for (const [path, operation, schema] of [
    ['/edits', 'edit', editVideoBodySchema],
    ['/extensions', 'extend', extendVideoBodySchema],
  ] as const) {
    router.post(path, videoBodyParser, async (req, res) => {
      const { body, upload } = req.createBody!;
      const input = parseBody(schema, body);
      const claim = idempotencyClaim(req, req.createBody!);
      const create = () => createFromSource(deps, req.apiKey, operation, input, upload, String(req.id), claim);
      const { task, replayed } = claim ? await createOnce(deps, req.apiKey.id, claim, create) : { task: await create(), replayed: false };
      if (replayed) res.setHeader('idempotent-replayed', 'true');
      pollAfter(res, task);
      res.status(200).json(await presentVideoWithResult(deps, req, task));
    });
  }

  router.post('/characters', videoBodyParser, async (req, res) => {
    const { body, upload } = req.createBody!;
    const { name, video } = parseBody(createCharacterBodySchema, body);
    res.status(200).json(presentCharacter(await createCharacterFromVideo(deps, req.apiKey, name, video, upload)));
  });

  router.get('/characters/:character_id', async (req, res) => {
    const id = String(req.params.character_id);
    if (!isIssuedId('char', id)) throw notFound('character');
    res.json(presentCharacter(await getCharacter(deps, req.apiKey, id)));
  });

  router.get('/', async (req, res) => {
    const query = parseBody(listVideosQuerySchema, { ...(req.query as object) });
    let after = null;
    if (query.after !== undefined) {
      // A deleted cursor still marks a place in the list, so paging survives a delete.
      after = await findListCursor(deps.db, req.apiKey.id, query.after);
      if (!after) throw invalidParameter('after', 'must be the id of one of your videos');
    }
    const { tasks, hasMore } = await listTasks(deps.db, {
      apiKeyId: req.apiKey.id,
      limit: query.limit ?? 20,
      order: query.order ?? 'desc',
      after,
      status: query.status,
      user: query.user,
      model: query.model,
    });
    const baseUrl = publicBaseUrl(deps, req);
    const data = tasks.map((t) => presentVideo(deps, req.apiKey, t, { baseUrl }));
    res.json({ object: 'list', data, first_id: tasks[0]?.id ?? null, last_id: tasks.at(-1)?.id ?? null, has_more: hasMore });
  });

  router.get('/:id', async (req, res) => {
    const task = await findVideoForOwner(deps.db, String(req.params.id), req.apiKey.id);
    if (!task) throw notFound();
    pollAfter(res, task);
    res.json(await presentVideoWithResult(deps, req, task));
  });

  router.delete('/:id', async (req, res) => {
    await deleteVideo(deps, req.apiKey, String(req.params.id));
    res.json({ id: String(req.params.id), object: 'video.deleted', deleted: true });
  });

  router.post('/:id/remix', bodyParser, async (req, res) => {
    const { body, upload } = req.createBody!;
    if (upload) throw new ApiError(400, 'invalid_parameter', `Unknown parameter: ${upload.field}`, upload.field);
    const { prompt } = parseBody(remixVideoBodySchema, body);
    const task = await remixVideo(deps, req.apiKey, String(req.params.id), prompt, String(req.id));
    res.status(200).json(await presentVideoWithResult(deps, req, task));
  });

  router.get('/:id/content', async (req, res) => {
    const task = await findTaskForOwner(deps.db, String(req.params.id), req.apiKey.id);
    if (!task) throw notFound();
    await sendContent(deps, req, res, task);
  });

  return router;
}

/**
 * GET …/content?variant&index&expires&signature: a signed link from a video object's `url`, served
 * without the bearer header. Mounted before auth; requests without `signature` fall through to it.
 */
function signedContent(deps: ApiDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (req.query.signature === undefined) return next();
    const videoId = String(req.params.id);
    const q = req.query as Record<string, unknown>;
    const str = (v: unknown): string => (typeof v === 'string' ? v : '');
    const variant = str(q.variant) || 'video';
    const index = str(q.index) || '0';
    const expires = str(q.expires);
    const valid =
      VARIANTS.includes(variant as Variant) &&
      /^\d{1,4}$/.test(index) &&
      /^\d{1,12}$/.test(expires) &&
      verifyContentGrant(deps.signingSecret, { videoId, variant: variant as ContentVariant, index: Number(index), expires: Number(expires) }, str(q.signature));
    if (!valid) {
      throw new ApiError(403, 'invalid_signature', 'Invalid signature: this content link was altered or not issued by this server', 'signature');
    }
    if (Number(expires) * 1000 <= Date.now()) {
      throw new ApiError(410, 'video_expired', `Video ${videoId} expired at ${new Date(Number(expires) * 1000).toISOString()}; its content has been deleted`);
    }
    const task = await findUndeletedTask(deps.db, videoId);
    if (!task) throw notFound();
    await sendContent(deps, req, res, task);
  };
}

function parseVariantAndIndex(req: Request, n: number): { variant: Variant; index: number } {
  const variant = (req.query.variant ?? 'video') as string;
  if (!VARIANTS.includes(variant as Variant)) {
    throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: variant must be one of video, thumbnail, spritesheet', 'variant');
  }
  const rawIndex = (req.query.index ?? '0') as string;
  if (!/^\d+$/.test(rawIndex) || Number(rawIndex) >= n) {
    throw new ApiError(400, 'invalid_parameter', `Invalid parameter: index must be an integer from 0 to ${n - 1}`, 'index');
  }
  return { variant: variant as Variant, index: Number(rawIndex) };
}

type ContentTask = Pick<Task, 'id' | 'status' | 'expiresAt' | 'n' | 'completedAt'>;

/** How long after a completion its images may still be in the making (the worker stores them right after). */
const IMAGES_PENDING_MS = 60_000;
const IMAGE_WAIT_MS = 10_000;

/**
 * A thumbnail or spritesheet. The worker announces a task before it stores its images, so a request
 * that comes in that moment waits for them (bounded) instead of being told they do not exist.
 */
async function findImage(deps: ApiDeps, req: Request, task: ContentTask, index: number, variant: Exclude<Variant, 'video'>): Promise<TaskOutput | null> {
  const found = await findTaskOutput(deps.db, task.id, index, variant);
  if (found) return found;
  const pending = task.completedAt !== null && Date.now() - task.completedAt.getTime() < IMAGES_PENDING_MS;
  for (const give = Date.now() + IMAGE_WAIT_MS; pending && Date.now() < give && !req.socket.destroyed;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const image = await findTaskOutput(deps.db, task.id, index, variant);
    if (image) return image;
  }
  throw new ApiError(404, 'not_found', `Video ${task.id} has no ${variant}${task.n > 1 ? ` for index ${index}` : ''}: it could not be made from the video`);
}

/**
 * Streams one stored output with ETag and byte-range support, so a <video> element can seek; or,
 * with REELAY_CONTENT_DELIVERY=redirect, answers 302 to a presigned URL of the object.
 */
async function sendContent(deps: ApiDeps, req: Request, res: Response, task: ContentTask): Promise<void> {
  const { id: taskId, status, expiresAt } = task;
  const { variant, index } = parseVariantAndIndex(req, task.n);
  if (status !== 'completed') {
    throw new ApiError(409, 'video_not_ready', `Video ${taskId} is ${status}; content is available once it is completed`);
  }
  if (expiresAt.getTime() <= Date.now()) {
    throw new ApiError(410, 'video_expired', `Video ${taskId} expired at ${expiresAt.toISOString()}; its content has been deleted`);
  }
  const output = variant === 'video' ? await findTaskOutput(deps.db, taskId, index, variant) : await findImage(deps, req, task, index, variant);
  const size = output ? await deps.storage.size(output.storageKey) : null;
  if (!output || size === null) throw new ApiError(410, 'video_expired', `Content of video ${taskId} is no longer stored`);

  if (deps.config.REELAY_CONTENT_DELIVERY === 'redirect') {
    // The bucket serves the bytes (Range included); the link lives no longer than the content.
    const expiresInSeconds = Math.min(PRESIGNED_URL_SECONDS, (expiresAt.getTime() - Date.now()) / 1000);
    const url = await deps.storage.presignedUrl(output.storageKey, {
      expiresInSeconds,
      contentType: output.contentType,
      cacheControl: 'private, max-age=3600',
    });
    if (url) {
      res.setHeader('cache-control', 'no-store');
      res.redirect(302, url);
      return;
    }
  }
  const etag = `"${output.checksum}"`;
  res.setHeader('content-type', output.contentType);
  res.setHeader('etag', etag);
  res.setHeader('accept-ranges', 'bytes');
  res.setHeader('cache-control', 'private, max-age=3600');
  if (req.header('if-none-match') === etag) {
    res.status(304).end();
    return;
  }
  let start = 0;
  let end = size - 1;
  const rangeHeader = req.header('range');
  const ifRange = req.header('if-range');
  if (rangeHeader && (!ifRange || ifRange === etag)) {
    const ranges = rangeParser(size, rangeHeader, { combine: true });
    if (ranges === -1) {
      res.setHeader('content-range', `bytes */${size}`);
      throw new ApiError(416, 'invalid_parameter', `Range not satisfiable: the content is ${size} bytes`, 'range');
    }
    if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
      start = ranges[0]!.start;
      end = ranges[0]!.end;
      res.status(206);
      res.setHeader('content-range', `bytes ${start}-${end}/${size}`);
    }
  }
  res.setHeader('content-length', String(end - start + 1));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = deps.storage.read(output.storageKey, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

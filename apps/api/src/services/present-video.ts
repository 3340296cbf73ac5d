import type { Request } from 'express';
import { buffer } from 'node:stream/consumers';
import { signedContentUrl, toVideoObject, type ContentVariant, type StatusDialect, type VideoResult } from '@reelay/core';
import { videoOutputsOf, type ApiKey, type VideoRow } from '@reelay/db';
import type { ApiDeps } from '../deps';

function dialectFor(deps: ApiDeps, key: ApiKey): StatusDialect {
  return (key.statusDialect as StatusDialect | null) ?? deps.config.REELAY_STATUS_DIALECT;
}

/** REELAY_PUBLIC_URL, else the scheme and host the client used (X-Forwarded-* only with trust proxy). */
export function publicBaseUrl(deps: ApiDeps, req: Request): string {
  return deps.config.REELAY_PUBLIC_URL ?? `${req.protocol}://${req.host}`;
}

const resultAvailable = (task: VideoRow): boolean => task.status === 'completed' && task.filesDeletedAt === null && task.expiresAt.getTime() > Date.now();

/** A link to one output that works without the bearer header until the task's expires_at. */
function contentLink(deps: ApiDeps, baseUrl: string, task: VideoRow, variant: ContentVariant = 'video', index = 0): string {
  return signedContentUrl(baseUrl, deps.signingSecret, {
    videoId: task.id,
    variant,
    index,
    expires: Math.floor(task.expiresAt.getTime() / 1000),
  });
}

function linkResult(deps: ApiDeps, baseUrl: string, task: VideoRow): VideoResult {
  const urls = Array.from({ length: task.n }, (_, i) => contentLink(deps, baseUrl, task, 'video', i));
  return task.n > 1 ? { url: urls[0]!, urls } : { url: urls[0]! };
}

/**
 * The video object as this key sees it. With `baseUrl`, a completed `url`-format task also carries
 * its signed `url` (and `urls` for n > 1); this needs no I/O, so list pages can use it too.
 */
export function presentVideo(deps: ApiDeps, key: ApiKey, task: VideoRow, opts: { baseUrl?: string } = {}): Record<string, unknown> {
  const result = opts.baseUrl && resultAvailable(task) && task.responseFormat !== 'b64_json' ? linkResult(deps, opts.baseUrl, task) : {};
  return toVideoObject(task, dialectFor(deps, key), result);
}

const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

/**
 * The video object for a single-video response (create, retrieve). A completed `b64_json` task
 * carries the videos inline, up to REELAY_MAX_B64_BYTES of base64 in total; above that cap it
 * carries `b64_json: null`, the signed `url`/`urls` instead, and `b64_json_error` saying why.
 */
export async function presentVideoWithResult(deps: ApiDeps, req: Request, task: VideoRow): Promise<Record<string, unknown>> {
  const baseUrl = publicBaseUrl(deps, req);
  if (task.responseFormat !== 'b64_json' || !resultAvailable(task)) return presentVideo(deps, req.apiKey, task, { baseUrl });

  const outputs = await videoOutputsOf(deps.db, task.id);
  const encoded = outputs.reduce((sum, o) => sum + base64Length(Number(o.bytes)), 0);
  const cap = deps.config.REELAY_MAX_B64_BYTES;
  const fallback = (message: string, code = 'payload_too_large'): VideoResult => ({
    b64_json: null,
    ...linkResult(deps, baseUrl, task),
    b64_json_error: { code, message },
  });
  let result: VideoResult;
  if (outputs.length < task.n) {
    result = fallback('The video could not be read for b64_json; download it from url instead', 'content_unavailable');
  } else if (encoded > cap) {
    result = fallback(`The video is ${encoded} bytes as base64, above this server's b64_json limit of ${cap} bytes; download it from url instead`);
  } else {
    try {
      const data = await Promise.all(outputs.map(async (o) => (await buffer(deps.storage.read(o.storageKey))).toString('base64')));
      result = { b64_json: task.n > 1 ? data : data[0]! };
    } catch {
      result = fallback('The video could not be read for b64_json; download it from url instead', 'content_unavailable');
    }
  }
  return toVideoObject(task, dialectFor(deps, req.apiKey), result);
}

/** Signed links to a completed task's first video and thumbnail (what an operator's page shows), or null. */
export function contentLinks(deps: ApiDeps, baseUrl: string, task: VideoRow): { video: string; thumbnail: string } | null {
  if (!resultAvailable(task)) return null;
  return { video: contentLink(deps, baseUrl, task, 'video'), thumbnail: contentLink(deps, baseUrl, task, 'thumbnail') };
}

import { Readable } from 'node:stream';
import { signedContentUrl, toVideoObject, type StatusDialect } from '@reelay/core';
import { batchTasksPage, findApiKeyById, loadSigningSecret, upsertFile, type Batch, type BatchTaskRow, type Db } from '@reelay/db';
import { fileKeys } from '@reelay/storage';
import type { WorkerContext } from '../context';

const PAGE = 1000;

/** Files a batch writes get ids fixed by the batch, so a finalize that runs again overwrites them. */
const outputFileId = (batchId: string): string => `file-${batchId.slice('batch_'.length)}out`;
const errorFileId = (batchId: string): string => `file-${batchId.slice('batch_'.length)}err`;

const secrets = new WeakMap<Db, Promise<string>>();
function signingSecret(ctx: WorkerContext): Promise<string> {
  let s = secrets.get(ctx.db);
  if (!s) secrets.set(ctx.db, (s = loadSigningSecret(ctx.db, ctx.config.REELAY_SIGNING_SECRET)));
  return s;
}

/** The batch's tasks, page by page in line order, as output lines of the one kind asked for. */
async function* linesOf(ctx: WorkerContext, batch: Batch, want: 'completed' | 'failed', render: (t: BatchTaskRow) => string): AsyncGenerator<string> {
  let after = 0;
  for (;;) {
    const page = await batchTasksPage(ctx.db, batch.id, after, PAGE);
    if (page.length === 0) return;
    after = page.at(-1)!.batchLine!;
    let chunk = '';
    for (const t of page) if (t.status === want) chunk += `${render(t)}\n`;
    if (chunk) yield chunk;
  }
}

/**
 * Writes the output file (one line per completed request: the video object with its signed url)
 * and the error file (one line per request that did not complete), streamed into storage page
 * by page, and records both as files of purpose batch_output. Returns their ids (null when empty).
 */
export async function writeBatchResults(
  ctx: WorkerContext,
  batch: Batch,
  counts: { completed: number; failed: number },
): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
  const key = await findApiKeyById(ctx.db, batch.apiKeyId);
  const dialect = ((key?.statusDialect as StatusDialect | null) ?? ctx.config.REELAY_STATUS_DIALECT) as StatusDialect;
  const secret = await signingSecret(ctx);
  const requestLineId = (t: BatchTaskRow): string => `batch_req_${t.id.slice('vid_'.length)}`;
  const requestId = (t: BatchTaskRow): string => t.requestId ?? batch.requestId ?? batch.id;
  const videoOf = (t: BatchTaskRow): Record<string, unknown> => {
    const links =
      t.status === 'completed' && t.responseFormat !== 'b64_json'
        ? Array.from({ length: t.n }, (_, i) =>
            signedContentUrl(batch.baseUrl, secret, { videoId: t.id, variant: 'video', index: i, expires: Math.floor(t.expiresAt.getTime() / 1000) }),
          )
        : [];
    const result = links.length === 0 ? {} : t.n > 1 ? { url: links[0]!, urls: links } : { url: links[0]! };
    return toVideoObject(t, dialect, result);
  };
  const completedLine = (t: BatchTaskRow): string =>
    JSON.stringify({ id: requestLineId(t), custom_id: t.customId, response: { status_code: 200, request_id: requestId(t), body: videoOf(t) }, error: null });
  const failedLine = (t: BatchTaskRow): string =>
    JSON.stringify({
      id: requestLineId(t),
      custom_id: t.customId,
      response: { status_code: 200, request_id: requestId(t), body: videoOf(t) },
      error: { code: t.errorCode ?? 'upstream_error', message: t.errorMessage ?? 'The video failed' },
    });

  const write = async (id: string, want: 'completed' | 'failed', render: (t: BatchTaskRow) => string, suffix: string): Promise<string> => {
    const stored = await ctx.storage.put(fileKeys.content(id), Readable.from(linesOf(ctx, batch, want, render)));
    await upsertFile(ctx.db, {
      id,
      apiKeyId: batch.apiKeyId,
      filename: `${batch.id}_${suffix}.jsonl`,
      purpose: 'batch_output',
      bytes: stored.bytes,
      checksum: stored.checksum,
      storageKey: stored.key,
    });
    return id;
  };
  return {
    outputFileId: counts.completed > 0 ? await write(outputFileId(batch.id), 'completed', completedLine, 'output') : null,
    errorFileId: counts.failed > 0 ? await write(errorFileId(batch.id), 'failed', failedLine, 'error') : null,
  };
}

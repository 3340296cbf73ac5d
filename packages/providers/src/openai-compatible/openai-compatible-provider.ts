import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { credentialFrom } from '@reelay/config';
import { FormData } from 'undici';
import { z } from 'zod';
import { PermanentProviderError } from '../errors';
import { readJson, readStream, upstreamRequest } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitAnswer, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { verifyOpenAIWebhook } from './webhook';

/**
 * OpenAI's Videos API (https://platform.openai.com/docs/api-reference/videos) and gateways that
 * speak it, including Reelay itself. `options.dialect` picks the create body:
 * - `openai` (default): `{model, prompt, seconds, size}`, what OpenAI accepts;
 * - `seed`: adds `duration, width, height, fps, seed, n, metadata` (Reelay and seed-style gateways).
 * Status words of both dialects are understood when polling. Submit sends `Idempotency-Key: <task id>`,
 * so a submit repeated after a crash returns the upstream task already made.
 */
const optionsSchema = z
  .object({
    dialect: z.enum(['openai', 'seed']).default('openai'),
    /** Variable holding the `whsec_…` secret of the project webhook pointed at /v1/upstream-webhooks/openai-compatible. */
    webhookSecretEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'webhookSecretEnv must be an environment variable name')
      .optional(),
  })
  .loose();

const videoSchema = z
  .object({
    id: z.string().min(1),
    status: z.string(),
    progress: z.number().nullish(),
    seconds: z.union([z.string(), z.number()]).nullish(),
    n: z.number().int().positive().nullish(),
    error: z.object({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
    /** Not in OpenAI's object; some gateways report these. */
    eta_seconds: z.number().nullish(),
    queue_position: z.number().nullish(),
    cost_usd: z.number().nullish(),
  })
  .loose();
type UpstreamVideo = z.infer<typeof videoSchema>;

const QUEUED = new Set(['queued', 'pending']);
const RUNNING = new Set(['in_progress', 'processing']);
const CONTENT_POLICY = /moderation|content[_ ]policy|safety/i;

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com';

export class OpenAICompatibleProvider implements Provider {
  readonly name = 'openai-compatible';
  private readonly base: string;
  private readonly dialect: 'openai' | 'seed';

  constructor(private readonly init: ProviderInit) {
    this.base = (init.baseUrl ?? DEFAULT_OPENAI_BASE_URL).replace(/\/+$/, '');
    const parsed = optionsSchema.safeParse(init.options);
    if (!parsed.success) throw new Error(`model catalog: openai-compatible options: ${parsed.error.issues[0]!.message}`);
    this.dialect = parsed.data.dialect;
    const secret = parsed.data.webhookSecretEnv ? credentialFrom(init.config, parsed.data.webhookSecretEnv) : undefined;
    if (secret) this.identifyWebhook = async (req) => verifyOpenAIWebhook(secret, req);
  }

  /** Present only when the target names a webhook secret (options.webhookSecretEnv). */
  identifyWebhook?: (req: UpstreamWebhookRequest) => Promise<(UpstreamWebhookEvent & { upstreamId: string }) | null>;

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.init.apiKey ? { authorization: `Bearer ${this.init.apiKey}`, ...extra } : extra;
  }

  async submit(req: SubmitRequest): Promise<SubmitAnswer> {
    if (req.operation === 'edit' || req.operation === 'extend') return this.submitFromSource(req, req.operation);
    const fields: Record<string, string> = {
      model: req.upstreamModel ?? 'sora-2',
      seconds: String(req.durationSeconds),
      size: `${req.width}x${req.height}`,
    };
    if (req.prompt !== null) fields.prompt = req.prompt;
    if (this.dialect === 'seed') {
      Object.assign(fields, { fps: String(req.fps), seed: String(req.seed), n: String(req.n) });
    }
    const headers = this.headers({ 'idempotency-key': req.idempotencyKey });
    let body: string | FormData;
    if (req.imagePath) {
      // The image goes as multipart `input_reference`, as OpenAI's SDK sends it.
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      if (this.dialect === 'seed' && Object.keys(req.metadata).length) form.append('metadata', JSON.stringify(req.metadata));
      const bytes = await readFile(req.imagePath);
      form.append('input_reference', new Blob([bytes], { type: req.imageMime ?? 'image/png' }), 'input_reference');
      body = form;
    } else {
      const json: Record<string, unknown> = { ...fields };
      if (this.dialect === 'seed') {
        Object.assign(json, { fps: req.fps, seed: req.seed, n: req.n });
        if (Object.keys(req.metadata).length) json.metadata = req.metadata;
      }
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    }
    const res = await upstreamRequest({ method: 'POST', url: `${this.base}/v1/videos`, headers, body, timeoutMs: this.init.requestTimeoutMs });
    const video = this.parse(await readJson<unknown>(res, errorMessage));
    if (video.status === 'failed') throw this.failure(video);
    // A model that finished within the create call: its answer is already the outcome.
    if (video.status.toLowerCase() === 'completed') return { upstreamId: video.id, result: this.resultOf(video.id, video) };
    return { upstreamId: video.id };
  }

  /**
   * Edits and extensions go to the upstream's own endpoints (POST /v1/videos/edits, /extensions),
   * with the source MP4 uploaded as multipart `video`, as OpenAI's SDK sends it: the upstream
   * need not know the video the source was made as.
   */
  private async submitFromSource(req: SubmitRequest, operation: 'edit' | 'extend'): Promise<{ upstreamId: string }> {
    if (!req.sourceVideoPath) throw new PermanentProviderError('invalid_request', `an ${operation} needs its source video`);
    const form = new FormData();
    if (req.prompt !== null) form.append('prompt', req.prompt);
    if (operation === 'extend') {
      const added = Math.round((req.durationSeconds - (req.sourceSeconds ?? 0)) * 1000) / 1000;
      form.append('seconds', String(added));
    }
    // OpenAI's edit and extension bodies have no model; seed-style gateways (Reelay) take one.
    if (this.dialect === 'seed' && req.upstreamModel) form.append('model', req.upstreamModel);
    form.append('video', new Blob([await readFile(req.sourceVideoPath)], { type: 'video/mp4' }), 'source.mp4');
    const path = operation === 'edit' ? '/v1/videos/edits' : '/v1/videos/extensions';
    const res = await upstreamRequest({
      method: 'POST',
      url: `${this.base}${path}`,
      headers: this.headers({ 'idempotency-key': req.idempotencyKey }),
      body: form,
      timeoutMs: this.init.requestTimeoutMs,
    });
    const video = this.parse(await readJson<unknown>(res, errorMessage));
    if (video.status === 'failed') throw this.failure(video);
    return { upstreamId: video.id };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const res = await upstreamRequest({
      method: 'GET',
      url: `${this.base}/v1/videos/${encodeURIComponent(upstreamId)}`,
      headers: this.headers(),
      timeoutMs: this.init.requestTimeoutMs,
    });
    return this.resultOf(upstreamId, this.parse(await readJson<unknown>(res, errorMessage)));
  }

  private resultOf(upstreamId: string, video: UpstreamVideo): PollResult {
    const status = video.status.toLowerCase();
    const progress = video.progress ?? undefined;
    const eta = video.eta_seconds ?? undefined;
    if (QUEUED.has(status)) return { state: 'queued', progress, etaSeconds: eta, queuePosition: video.queue_position ?? undefined };
    if (RUNNING.has(status)) return { state: 'running', progress, etaSeconds: eta };
    if (status === 'completed') {
      const n = video.n ?? 1;
      const seconds = video.seconds === null || video.seconds === undefined ? NaN : Number(video.seconds);
      return {
        state: 'succeeded',
        outputs: Array.from({ length: n }, (_, index) => ({
          index,
          video: this.contentRef(upstreamId, 'video', index, n),
          thumbnail: this.contentRef(upstreamId, 'thumbnail', index, n),
          spritesheet: this.contentRef(upstreamId, 'spritesheet', index, n),
        })),
        producedSeconds: Number.isFinite(seconds) ? seconds * n : undefined,
        costUsd: video.cost_usd ?? undefined,
      };
    }
    const failure = this.failure(video);
    return { state: 'failed', code: failure.code, message: failure.message };
  }

  private contentRef(id: string, variant: string, index: number, n: number): OutputRef {
    const q = n > 1 ? `&index=${index}` : '';
    return { kind: 'url', url: `${this.base}/v1/videos/${encodeURIComponent(id)}/content?variant=${variant}${q}` };
  }

  async fetchOutput(ref: OutputRef): Promise<Readable> {
    if (ref.kind !== 'url') throw new Error('openai-compatible outputs are URLs');
    // Downloads may be large: the timeout bounds waiting for headers and for each chunk, not the whole body.
    const res = await upstreamRequest({ method: 'GET', url: ref.url, headers: this.headers(), timeoutMs: this.init.requestTimeoutMs });
    return readStream(res, 'download');
  }

  async cancel(upstreamId: string): Promise<void> {
    const res = await upstreamRequest({
      method: 'DELETE',
      url: `${this.base}/v1/videos/${encodeURIComponent(upstreamId)}`,
      headers: this.headers(),
      timeoutMs: this.init.requestTimeoutMs,
    });
    if (res.status === 404) {
      await res.body.dump();
      return; // already gone
    }
    await readJson<unknown>(res, errorMessage);
  }

  private parse(body: unknown): UpstreamVideo {
    const parsed = videoSchema.safeParse(body);
    if (!parsed.success) throw new PermanentProviderError('other', `upstream answered an unexpected video object: ${parsed.error.issues[0]!.message}`);
    return parsed.data;
  }

  private failure(video: UpstreamVideo): PermanentProviderError {
    const status = video.status.toLowerCase();
    const message = video.error?.message ?? `upstream task ${video.id} ${status}`;
    const code = video.error?.code ?? '';
    if (status === 'cancelled') return new PermanentProviderError('other', message, undefined, 'cancelled');
    if (CONTENT_POLICY.test(code) || CONTENT_POLICY.test(message)) return new PermanentProviderError('content_policy', message);
    if (code === 'timeout') return new PermanentProviderError('other', message, undefined, 'timeout');
    return new PermanentProviderError('other', message);
  }
}

/** OpenAI's error shape `{"error": {"message", "code", "type", "param"}}` (Reelay uses the same). */
function errorMessage(body: unknown, status: number): { message: string; contentPolicy: boolean } {
  const err = (body as { error?: { message?: unknown; code?: unknown } } | null)?.error;
  const message = typeof err?.message === 'string' ? err.message : `HTTP ${status}`;
  const code = typeof err?.code === 'string' ? err.code : '';
  return { message, contentPolicy: CONTENT_POLICY.test(code) };
}

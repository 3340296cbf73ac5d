import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  PermanentProviderError,
  type OutputRef,
  type PollOutput,
  type PollResult,
  type Provider,
  type SubmitRequest,
  type UpstreamWebhookEvent,
  type UpstreamWebhookRequest,
} from '../provider';
import { aspectRatioOf, dataUri, extendedInputs, readInputImage, resolutionOf } from '../request-mapping';
import { callUpstream, downloadStream, progressFromLogs, type ErrorMessageReader } from '../upstream-http';

/**
 * fal.ai queue API (https://docs.fal.ai/model-endpoints/queue).
 *
 * upstreamModel is the endpoint id, e.g. "fal-ai/veo3" or "fal-ai/kling-video/v2.1/master/text-to-video".
 * Status and result are addressed by the app id alone (the first two segments), so the stored
 * upstream id is "<owner>/<app>/requests/<request_id>".
 *
 * No double submit: the queue accepts no idempotency key. The worker stores the request id right
 * after this call returns; a crash in that window leaves a queued fal request that nobody polls.
 * fal's `fal_webhook` URL carries the task id, so a late delivery for such an orphan reaches the
 * webhook route, which ignores it because it names another upstream id.
 */
export interface FalOptions {
  apiKey: string;
  baseUrl?: string;
  /** Where fal publishes its webhook signing keys (a JWKS of Ed25519 keys). */
  jwksUrl?: string;
  requestTimeoutMs?: number;
  downloadTimeoutMs?: number;
  maxDownloadBytes?: number;
  name?: string;
}

const readDetail: ErrorMessageReader = (body) => {
  if (!body || typeof body !== 'object') return undefined;
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: unknown }) => `${Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body').join('.') : ''}: ${String(d.msg ?? '')}`)
      .join('; ');
  }
  return undefined;
};

const POLICY = /content.?polic|flagged|nsfw|safety|sensitive/i;
const WEBHOOK_LEEWAY_SECONDS = 300;
const JWKS_TTL_MS = 60 * 60 * 1000;

interface FalStatusBody {
  status?: string;
  queue_position?: number;
  logs?: Array<{ message?: string }> | null;
  error?: string | null;
  error_type?: string | null;
}

export class FalProvider implements Provider {
  readonly name: string;
  private readonly base: string;
  private readonly timeoutMs: number;
  private jwks: { keys: KeyObject[]; at: number } | undefined;

  constructor(private readonly opts: FalOptions) {
    this.name = opts.name ?? 'fal';
    this.base = (opts.baseUrl ?? 'https://queue.fal.run').replace(/\/+$/, '');
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  private get auth(): Record<string, string> {
    return { authorization: `Key ${this.opts.apiKey}` };
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    const endpoint = req.upstreamModel?.replace(/^\/+|\/+$/g, '');
    if (!endpoint || endpoint.split('/').length < 2) {
      throw new PermanentProviderError('upstream_error', 'fal: the catalog target needs an upstreamModel like "fal-ai/veo3"');
    }
    const image = await readInputImage(req);
    const input: Record<string, unknown> = {
      prompt: req.prompt ?? '',
      duration: String(Math.round(req.durationSeconds)),
      aspect_ratio: aspectRatioOf(req.width, req.height),
      resolution: resolutionOf(req.width, req.height),
      seed: req.seed,
      ...(req.n > 1 ? { num_videos: req.n } : {}),
      ...(image ? { image_url: dataUri(image) } : {}),
      ...extendedInputs(req.metadata),
    };
    const url = new URL(`${this.base}/${endpoint}`);
    if (req.webhookUrl) url.searchParams.set('fal_webhook', req.webhookUrl);
    const res = await callUpstream('fal', { method: 'POST', url: url.href, headers: this.auth, json: input, timeoutMs: this.timeoutMs }, readDetail);
    const requestId = (res.body as { request_id?: unknown } | null)?.request_id;
    if (typeof requestId !== 'string' || !requestId) throw new PermanentProviderError('upstream_error', 'fal: the queue answer carried no request_id');
    const appId = endpoint.split('/').slice(0, 2).join('/');
    return { upstreamId: `${appId}/requests/${requestId}` };
  }

  private split(upstreamId: string): { appId: string; requestId: string } {
    const m = /^([^/]+\/[^/]+)\/requests\/([^/]+)$/.exec(upstreamId);
    if (!m) throw new PermanentProviderError('upstream_error', `fal: "${upstreamId}" is not a fal upstream id`);
    return { appId: m[1]!, requestId: m[2]! };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    this.split(upstreamId);
    const res = await callUpstream(
      'fal',
      { method: 'GET', url: `${this.base}/${upstreamId}/status?logs=1`, headers: this.auth, timeoutMs: this.timeoutMs },
      readDetail,
    );
    const s = res.body as FalStatusBody;
    if (s.status === 'IN_QUEUE') return { state: 'queued', queuePosition: s.queue_position };
    if (s.status === 'IN_PROGRESS') {
      return { state: 'running', progress: progressFromLogs((s.logs ?? []).map((l) => l.message ?? '').join('\n')) };
    }
    if (s.status !== 'COMPLETED') throw new PermanentProviderError('upstream_error', `fal: unknown queue status ${JSON.stringify(s.status)}`);
    if (s.error) return this.failed(s.error);

    // A finished request whose model failed answers the result call with the model's error status.
    const result = await callUpstream(
      'fal',
      { method: 'GET', url: `${this.base}/${upstreamId}`, headers: this.auth, timeoutMs: this.timeoutMs },
      readDetail,
      [400, 401, 403, 404, 410, 422, 499],
    );
    if (result.status >= 400) return this.failed(readDetail(result.body, result.status) ?? `HTTP ${result.status}`, result.status);
    const outputs = this.outputsOf(result.body);
    if (outputs.length === 0) return this.failed('the request completed without a video in its result');
    return { state: 'succeeded', outputs };
  }

  private failed(message: string, status?: number): PollResult {
    if (status === 499 || /cancel/i.test(message)) return { state: 'failed', code: 'cancelled', message: `fal: ${message}` };
    return { state: 'failed', code: POLICY.test(message) ? 'content_policy_violation' : 'upstream_error', message: `fal: ${message}` };
  }

  /** `video` (most video endpoints) or `videos[]`, with a `thumbnail` where the endpoint returns one. */
  private outputsOf(body: unknown): PollOutput[] {
    const b = (body ?? {}) as { video?: { url?: unknown }; videos?: Array<{ url?: unknown }>; thumbnail?: { url?: unknown } };
    const videos = b.videos ?? (b.video ? [b.video] : []);
    const thumb = typeof b.thumbnail?.url === 'string' ? b.thumbnail.url : undefined;
    return videos
      .filter((v): v is { url: string } => typeof v?.url === 'string')
      .map((v, index) => ({
        index,
        video: { kind: 'url' as const, url: v.url },
        ...(thumb && index === 0 ? { thumbnail: { kind: 'url' as const, url: thumb } } : {}),
      }));
  }

  async fetchOutput(ref: OutputRef): Promise<Readable> {
    if (ref.kind !== 'url') throw new PermanentProviderError('upstream_error', 'fal: outputs are URLs');
    // fal's result files live on a public CDN: the key is never sent there.
    return downloadStream('fal', ref.url, {
      maxBytes: this.opts.maxDownloadBytes ?? 4 * 1024 ** 3,
      timeoutMs: this.opts.downloadTimeoutMs ?? 60_000,
    });
  }

  async cancel(upstreamId: string): Promise<void> {
    this.split(upstreamId);
    // 400 ALREADY_COMPLETED: nothing left to stop.
    await callUpstream('fal', { method: 'PUT', url: `${this.base}/${upstreamId}/cancel`, headers: this.auth, timeoutMs: this.timeoutMs }, readDetail, [400]);
  }

  private async signingKeys(refresh = false): Promise<KeyObject[]> {
    if (this.jwks && !refresh && Date.now() - this.jwks.at < JWKS_TTL_MS) return this.jwks.keys;
    const url = this.opts.jwksUrl ?? 'https://rest.alpha.fal.ai/.well-known/jwks.json';
    const res = await callUpstream('fal', { method: 'GET', url, timeoutMs: this.timeoutMs }, readDetail);
    const keys = ((res.body as { keys?: Array<Record<string, unknown>> } | null)?.keys ?? [])
      .filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string')
      .map((k) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x as string }, format: 'jwk' }));
    this.jwks = { keys, at: Date.now() };
    return keys;
  }

  /**
   * fal signs "request_id\nuser_id\ntimestamp\nsha256hex(body)" with Ed25519 (hex signature);
   * the timestamp must be within five minutes. Keys come from fal's JWKS, refetched once when no
   * cached key verifies (fal rotating its key).
   */
  async verifyWebhook(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null> {
    const h = (n: string): string => {
      const v = req.headers[n];
      return (Array.isArray(v) ? v[0] : v) ?? '';
    };
    const requestId = h('x-fal-webhook-request-id');
    const userId = h('x-fal-webhook-user-id');
    const timestamp = h('x-fal-webhook-timestamp');
    const signatureHex = h('x-fal-webhook-signature');
    if (!requestId || !timestamp || !/^[0-9a-f]{128}$/i.test(signatureHex)) return null;
    if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > WEBHOOK_LEEWAY_SECONDS) return null;
    const message = Buffer.from([requestId, userId, timestamp, createHash('sha256').update(req.body).digest('hex')].join('\n'));
    const signature = Buffer.from(signatureHex, 'hex');
    const verifies = (keys: KeyObject[]): boolean => keys.some((k) => verify(null, message, k, signature));
    if (!verifies(await this.signingKeys()) && (Date.now() - (this.jwks?.at ?? 0) < 60_000 || !verifies(await this.signingKeys(true)))) return null;

    let payload: { request_id?: unknown; status?: unknown };
    try {
      payload = JSON.parse(req.body.toString('utf8'));
    } catch {
      return null;
    }
    // The signed header and the body must both name this task's request.
    if (requestId !== this.split(upstreamId).requestId || payload.request_id !== requestId) return null;
    return { terminal: payload.status === 'OK' || payload.status === 'ERROR' };
  }
}

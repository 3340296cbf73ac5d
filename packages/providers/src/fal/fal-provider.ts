import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { downloadStream, progressFromLogs } from '../download';
import { PermanentProviderError } from '../errors';
import { headerOf, readJson, upstreamRequest, type UpstreamResponse } from '../http';
import type { OutputRef, PollOutput, PollResult, Provider, ProviderInit, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { aspectRatioOf, dataUri, extendedInputs, readInputImage, resolutionOf } from '../request-mapping';

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
export const DEFAULT_FAL_BASE_URL = 'https://queue.fal.run';

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

const POLICY = /content.?polic|flagged|nsfw|safety|sensitive/i;

/** fal errors carry `detail`: a string, or FastAPI's list of {loc, msg} for invalid input. */
function detailOf(body: unknown, status: number): string {
  const detail = body && typeof body === 'object' ? (body as { detail?: unknown }).detail : undefined;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: unknown }) => `${Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body').join('.') : ''}: ${String(d.msg ?? '')}`)
      .join('; ');
  }
  // A non-JSON answer is raw text: the status is what the client sees, the text goes to the log.
  return `HTTP ${status}`;
}

const readDetail = (body: unknown, status: number): { message: string; contentPolicy: boolean } => {
  const text = detailOf(body, status);
  return { message: `fal: ${text}`, contentPolicy: status < 500 && POLICY.test(text) };
};
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
    this.base = (opts.baseUrl ?? DEFAULT_FAL_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  /** From a catalog target: `credentials` names the FAL_KEY variable; options.jwksUrl overrides fal's JWKS address. */
  static fromInit(init: ProviderInit): FalProvider {
    if (!init.apiKey) throw new Error('model catalog: a fal target needs `credentials` (the variable holding the fal key)');
    const jwksUrl = init.options.jwksUrl;
    if (jwksUrl !== undefined && (typeof jwksUrl !== 'string' || !/^https?:\/\//.test(jwksUrl)))
      throw new Error('model catalog: fal options.jwksUrl must be an http(s) URL');
    return new FalProvider({ apiKey: init.apiKey, baseUrl: init.baseUrl, jwksUrl, requestTimeoutMs: init.requestTimeoutMs });
  }

  private get auth(): Record<string, string> {
    return { authorization: `Key ${this.opts.apiKey}` };
  }

  private send(method: 'GET' | 'POST' | 'PUT', url: string, json?: unknown, auth = true): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { ...(auth ? this.auth : {}), accept: 'application/json' };
    if (json !== undefined) headers['content-type'] = 'application/json';
    return upstreamRequest({ method, url, headers, body: json === undefined ? undefined : JSON.stringify(json), timeoutMs: this.timeoutMs });
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    const endpoint = req.upstreamModel?.replace(/^\/+|\/+$/g, '');
    if (!endpoint || endpoint.split('/').length < 2) {
      throw new PermanentProviderError('other', 'fal: the catalog target needs an upstreamModel like "fal-ai/veo3"');
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
    const requestId = (await readJson<{ request_id?: unknown } | null>(await this.send('POST', url.href, input), readDetail))?.request_id;
    if (typeof requestId !== 'string' || !requestId) throw new PermanentProviderError('other', 'fal: the queue answer carried no request_id');
    const appId = endpoint.split('/').slice(0, 2).join('/');
    return { upstreamId: `${appId}/requests/${requestId}` };
  }

  private split(upstreamId: string): { appId: string; requestId: string } {
    const m = /^([^/]+\/[^/]+)\/requests\/([^/]+)$/.exec(upstreamId);
    if (!m) throw new PermanentProviderError('other', `fal: "${upstreamId}" is not a fal upstream id`);
    return { appId: m[1]!, requestId: m[2]! };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    this.split(upstreamId);
    const s = await readJson<FalStatusBody>(await this.send('GET', `${this.base}/${upstreamId}/status?logs=1`), readDetail);
    if (s.status === 'IN_QUEUE') return { state: 'queued', queuePosition: s.queue_position };
    if (s.status === 'IN_PROGRESS') {
      return { state: 'running', progress: progressFromLogs((s.logs ?? []).map((l) => l.message ?? '').join('\n')) };
    }
    if (s.status !== 'COMPLETED') throw new PermanentProviderError('other', `fal: unknown queue status ${JSON.stringify(s.status)}`);
    if (s.error) return this.failed(s.error);

    // A finished request whose model failed answers the result call with the model's error status.
    const res = await this.send('GET', `${this.base}/${upstreamId}`);
    if (res.status >= 400 && res.status < 500 && ![401, 403, 429].includes(res.status)) {
      const body = await res.body.text().catch(() => '');
      let parsed: unknown = body;
      try {
        parsed = JSON.parse(body);
      } catch {
        // keep the text
      }
      return this.failed(detailOf(parsed, res.status), res.status);
    }
    const outputs = this.outputsOf(await readJson<unknown>(res, readDetail));
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
    if (ref.kind !== 'url') throw new PermanentProviderError('other', 'fal: outputs are URLs');
    // fal's result files live on a public CDN: the key is never sent there.
    return downloadStream('fal', ref.url, {
      maxBytes: this.opts.maxDownloadBytes ?? 4 * 1024 ** 3,
      timeoutMs: this.opts.downloadTimeoutMs ?? 60_000,
    });
  }

  async cancel(upstreamId: string): Promise<void> {
    this.split(upstreamId);
    const res = await this.send('PUT', `${this.base}/${upstreamId}/cancel`);
    // 400 ALREADY_COMPLETED: nothing left to stop.
    if (res.status === 400) return void (await res.body.dump());
    await readJson(res, readDetail);
  }

  private async signingKeys(refresh = false): Promise<KeyObject[]> {
    if (this.jwks && !refresh && Date.now() - this.jwks.at < JWKS_TTL_MS) return this.jwks.keys;
    const url = this.opts.jwksUrl ?? 'https://rest.alpha.fal.ai/.well-known/jwks.json';
    const jwks = await readJson<{ keys?: Array<Record<string, unknown>> } | null>(await this.send('GET', url, undefined, false), readDetail);
    const keys = (jwks?.keys ?? [])
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
    const h = (n: string): string => headerOf(req.headers, n);
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

import { credentialFrom } from '@reelay/config';
import type { Readable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { FormData } from 'undici';
import { downloadStream, progressFromLogs } from '../download';
import { PermanentProviderError } from '../errors';
import { headerOf, JsonApi, readJson, upstreamRequest } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { aspectRatioOf, dataUri, extendedInputs, readInputImage, resolutionOf } from '../request-mapping';

/**
 * Replicate predictions (https://replicate.com/docs/reference/http).
 *
 * upstreamModel is either "owner/name" (an official model: POST /v1/models/owner/name/predictions)
 * or "owner/name:<version>" / a bare 64-hex version id (POST /v1/predictions with `version`).
 * `Prefer: wait` is never sent: a worker must not block on an upstream.
 *
 * No double submit: Replicate accepts no idempotency key. The worker stores the prediction id
 * right after this call returns; a crash in between (or a lost answer to the POST) leaves an
 * orphan prediction that is billed but never polled. Mitigations: the submit step is the only
 * step that can create one, the window is one HTTP round trip plus one UPDATE, and every
 * prediction carries the task id in its webhook URL so an operator can find orphans in the
 * Replicate dashboard.
 */
export const DEFAULT_REPLICATE_BASE_URL = 'https://api.replicate.com';

export interface ReplicateOptions {
  apiToken: string;
  baseUrl?: string;
  /** The account's webhook signing secret (whsec_…); fetched from the API on first use when absent. */
  webhookSecret?: string;
  requestTimeoutMs?: number;
  downloadTimeoutMs?: number;
  maxDownloadBytes?: number;
  /** Adapter name this instance is registered under (the catalog's `provider`). */
  name?: string;
}

interface Prediction {
  id: string;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  logs?: string | null;
  error?: unknown;
  output?: unknown;
}

const POLICY = /nsfw|safety|content polic|flagged|sensitive/i;
const INLINE_IMAGE_MAX_BYTES = 1024 * 1024;

/** Replicate errors are problem details: {title, detail, status}. */
function readProblem(body: unknown, status: number): { message: string; contentPolicy: boolean } {
  const b = (body && typeof body === 'object' ? body : {}) as { detail?: unknown; title?: unknown };
  const text = typeof b.detail === 'string' ? b.detail : typeof b.title === 'string' ? b.title : `HTTP ${status}`;
  return { message: `replicate: ${text}`, contentPolicy: status < 500 && POLICY.test(text) };
}

/** Every URL in a prediction's output (a string, a list, or an object holding them). */
function outputUrls(output: unknown): string[] {
  if (typeof output === 'string') return /^https?:\/\//.test(output) ? [output] : [];
  if (Array.isArray(output)) return output.flatMap(outputUrls);
  if (output && typeof output === 'object') return Object.values(output).flatMap(outputUrls);
  return [];
}

export class ReplicateProvider implements Provider {
  readonly name: string;
  private readonly api: JsonApi;
  private secret: string | undefined;

  constructor(private readonly opts: ReplicateOptions) {
    this.name = opts.name ?? 'replicate';
    this.api = new JsonApi((opts.baseUrl ?? DEFAULT_REPLICATE_BASE_URL).replace(/\/+$/, ''), () => this.auth, opts.requestTimeoutMs ?? 30_000, readProblem);
    this.secret = opts.webhookSecret;
  }

  /** From a catalog target: `credentials` names the API token's variable; options.webhookSecretEnv the whsec_ secret's. */
  static fromInit(init: ProviderInit): ReplicateProvider {
    if (!init.apiKey) throw new Error('model catalog: a replicate target needs `credentials` (the variable holding the API token)');
    const secretEnv = init.options.webhookSecretEnv;
    if (secretEnv !== undefined && typeof secretEnv !== 'string') throw new Error('model catalog: replicate options.webhookSecretEnv must be a variable name');
    return new ReplicateProvider({
      apiToken: init.apiKey,
      baseUrl: init.baseUrl,
      webhookSecret: secretEnv ? credentialFrom(init.config, secretEnv) : undefined,
      requestTimeoutMs: init.requestTimeoutMs,
    });
  }

  private get auth(): Record<string, string> {
    return { authorization: `Bearer ${this.opts.apiToken}` };
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    const model = req.upstreamModel;
    if (!model) throw new PermanentProviderError('other', 'replicate: the catalog target needs an upstreamModel ("owner/name" or "owner/name:version")');
    const image = await readInputImage(req);
    const input: Record<string, unknown> = {
      prompt: req.prompt ?? '',
      duration: Math.round(req.durationSeconds),
      aspect_ratio: aspectRatioOf(req.width, req.height),
      resolution: resolutionOf(req.width, req.height),
      seed: req.seed,
      ...(image ? { image: await this.imageInput(image, req.taskId) } : {}),
      ...extendedInputs(req.metadata),
    };
    const body: Record<string, unknown> = { input };
    if (req.webhookUrl) {
      body.webhook = req.webhookUrl;
      body.webhook_events_filter = ['completed'];
    }
    const versioned = /^([^/:]+\/[^/:]+):([0-9a-f]{64})$/.exec(model) ?? /^()([0-9a-f]{64})$/.exec(model);
    let path: string;
    if (versioned) {
      path = '/v1/predictions';
      body.version = versioned[2];
    } else if (/^[^/:]+\/[^/:]+$/.test(model)) {
      path = `/v1/models/${model}/predictions`;
    } else {
      throw new PermanentProviderError('other', `replicate: upstreamModel "${model}" is not "owner/name", "owner/name:<version>" or a version id`);
    }
    const id = (await this.api.call<Prediction | null>('POST', path, body))?.id;
    if (!id) throw new PermanentProviderError('other', 'replicate: the create answer carried no prediction id');
    return { upstreamId: id };
  }

  /**
   * Replicate takes small files inline as data URLs (its docs advise under 1 MB) and larger ones
   * uploaded first (POST /v1/files), referenced by URL; the latter also keeps the prediction's
   * `input`, echoed in every webhook delivery, small.
   */
  private async imageInput(image: { bytes: Buffer; mime: string }, taskId: string): Promise<string> {
    if (image.bytes.length <= INLINE_IMAGE_MAX_BYTES) return dataUri(image);
    const form = new FormData(); // undici's: the global one belongs to Node's bundled undici
    const ext = image.mime.split('/')[1] ?? 'bin';
    form.append('content', new Blob([image.bytes], { type: image.mime }), `${taskId}.${ext}`);
    const res = await upstreamRequest({
      method: 'POST',
      url: `${this.api.base}/v1/files`,
      headers: { ...this.auth, accept: 'application/json' },
      body: form,
      timeoutMs: this.api.timeoutMs,
    });
    const file = await readJson<{ urls?: { get?: unknown } } | null>(res, readProblem);
    const url = file?.urls?.get;
    if (typeof url !== 'string') throw new PermanentProviderError('other', 'replicate: the file upload answer carried no URL');
    return url;
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const p = await this.api.call<Prediction>('GET', `/v1/predictions/${encodeURIComponent(upstreamId)}`);
    switch (p.status) {
      case 'starting':
        return { state: 'queued' };
      case 'processing':
        return { state: 'running', progress: progressFromLogs(p.logs) };
      case 'succeeded': {
        const all = outputUrls(p.output);
        const isImage = (u: string): boolean => /\.(jpe?g|png|webp)(\?|$)/i.test(new URL(u).pathname);
        const videos = all.filter((u) => !isImage(u));
        const poster = all.find(isImage);
        if (videos.length === 0) return { state: 'failed', code: 'upstream_error', message: 'replicate: the prediction succeeded without a video output' };
        // A model that also returns an image (a poster frame) gives the first video its thumbnail.
        return {
          state: 'succeeded',
          outputs: videos.map((u, index) => ({ index, video: this.ref(u), ...(poster && index === 0 ? { thumbnail: this.ref(poster) } : {}) })),
        };
      }
      case 'canceled':
        return { state: 'failed', code: 'cancelled', message: 'replicate: the prediction was canceled' };
      default: {
        const message = typeof p.error === 'string' && p.error ? p.error : JSON.stringify(p.error ?? 'prediction failed');
        return { state: 'failed', code: POLICY.test(message) ? 'content_policy_violation' : 'upstream_error', message: `replicate: ${message}` };
      }
    }
  }

  /** Files served by the API host itself need the token; delivery-CDN links must not get it. */
  private ref(url: string): OutputRef {
    return new URL(url).origin === new URL(this.api.base).origin ? { kind: 'url', url, headers: this.auth } : { kind: 'url', url };
  }

  async fetchOutput(ref: OutputRef): Promise<Readable> {
    if (ref.kind !== 'url') throw new PermanentProviderError('other', 'replicate: outputs are URLs');
    return downloadStream('replicate', ref.url, {
      headers: ref.headers,
      credentialHeaders: ['authorization'],
      maxBytes: this.opts.maxDownloadBytes ?? 4 * 1024 ** 3,
      timeoutMs: this.opts.downloadTimeoutMs ?? 60_000,
    });
  }

  async cancel(upstreamId: string): Promise<void> {
    await this.api.call('POST', `/v1/predictions/${encodeURIComponent(upstreamId)}/cancel`);
  }

  private async signingSecret(): Promise<string> {
    if (this.secret) return this.secret;
    const key = (await this.api.call<{ key?: unknown } | null>('GET', '/v1/webhooks/default/secret'))?.key;
    if (typeof key !== 'string' || !key.startsWith('whsec_'))
      throw new PermanentProviderError('other', 'replicate: the webhook secret answer carried no whsec_ key');
    this.secret = key;
    return key;
  }

  /** Standard Webhooks: HMAC-SHA256 of "id.timestamp.body" with the whsec_ key, timestamp within 5 minutes. */
  async verifyWebhook(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null> {
    const h = (n: string): string => headerOf(req.headers, n);
    const secret = await this.signingSecret(); // a failure to fetch it is the caller's 503, not a forgery
    let payload: unknown;
    try {
      payload = new Webhook(secret).verify(req.body, {
        'webhook-id': h('webhook-id'),
        'webhook-timestamp': h('webhook-timestamp'),
        'webhook-signature': h('webhook-signature'),
      });
    } catch {
      return null;
    }
    const p = payload as Partial<Prediction>;
    if (p.id !== upstreamId) return null;
    return { terminal: p.status === 'succeeded' || p.status === 'failed' || p.status === 'canceled' };
  }
}

import type { Readable } from 'node:stream';
import { requireApiKey, unsignedWakeUp, type HttpAdapterOptions } from '../adapter-kit';
import { downloadOutput } from '../download';
import { PermanentProviderError } from '../errors';
import { JsonApi } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { aspectRatioOf, resolutionOf } from '../request-mapping';

/**
 * Luma Dream Machine (https://docs.lumalabs.ai/docs/api): `POST /dream-machine/v1/generations`
 * makes a generation, `GET …/generations/{id}` reports it (queued, dreaming, completed, failed
 * with `failure_reason`); `assets.video` is the result, `assets.image` a poster frame.
 *
 * upstreamModel is Luma's model ("ray-2", "ray-flash-2"). The size maps onto `aspect_ratio` and
 * `resolution` (its shorter side, "720p"), the duration onto "5s"/"9s"; Luma validates them.
 *
 * Image to video: Luma takes a start frame only as a public image URL (`keyframes.frame0.url`),
 * and Reelay does not publish input images, so an image task is refused before calling Luma.
 *
 * Callbacks: Luma POSTs the whole generation to `callback_url` on every state change, unsigned,
 * so a delivery only wakes the task for a poll. No cancel (Luma documents only deleting a
 * generation record) and no idempotency key: the generation id is stored right after the create.
 */
interface Generation {
  id: string;
  state: 'queued' | 'dreaming' | 'completed' | 'failed';
  failure_reason?: string | null;
  assets?: { video?: string | null; image?: string | null } | null;
}

const POLICY = /moderation|not allowed|content polic|nsfw|unsafe/i;

/** Luma errors carry `detail` (a string, or FastAPI's list of {loc, msg}). */
function readError(body: unknown, status: number): { message: string; contentPolicy: boolean } {
  const detail = body && typeof body === 'object' ? (body as { detail?: unknown }).detail : undefined;
  const text =
    typeof detail === 'string'
      ? detail
      : Array.isArray(detail)
        ? detail
            .map(
              (d: { loc?: unknown[]; msg?: unknown }) => `${Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body').join('.') : ''}: ${String(d.msg ?? '')}`,
            )
            .join('; ')
        : typeof body === 'string' && body
          ? body.slice(0, 300)
          : `HTTP ${status}`;
  return { message: `luma: ${text}`, contentPolicy: status < 500 && POLICY.test(text) };
}

export class LumaProvider implements Provider {
  readonly name: string;
  private readonly api: JsonApi;

  constructor(private readonly opts: HttpAdapterOptions) {
    this.name = opts.name ?? 'luma';
    const headers = { authorization: `Bearer ${opts.apiKey}` };
    this.api = new JsonApi((opts.baseUrl ?? 'https://api.lumalabs.ai').replace(/\/+$/, ''), () => headers, opts.requestTimeoutMs ?? 30_000, readError);
  }

  /** From a catalog target: `credentials` names the Luma API key's variable. */
  static fromInit(init: ProviderInit): LumaProvider {
    return new LumaProvider({ apiKey: requireApiKey(init, 'luma', 'the Luma API key'), baseUrl: init.baseUrl, requestTimeoutMs: init.requestTimeoutMs });
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    if (!req.upstreamModel) throw new PermanentProviderError('other', 'luma: the catalog target needs an upstreamModel (e.g. "ray-2")');
    if (req.imagePath) {
      throw new PermanentProviderError(
        'invalid_request',
        'luma: Luma takes a start frame only as a public image URL, which this gateway does not publish; send a text prompt only',
      );
    }
    if (req.n > 1) throw new PermanentProviderError('invalid_request', 'luma: a generation makes one video (n must be 1)');
    const body: Record<string, unknown> = {
      prompt: req.prompt ?? '',
      model: req.upstreamModel,
      aspect_ratio: aspectRatioOf(req.width, req.height),
      resolution: resolutionOf(req.width, req.height),
      duration: `${Math.round(req.durationSeconds)}s`,
      loop: req.metadata.loop === true,
      ...(req.webhookUrl ? { callback_url: req.webhookUrl } : {}),
    };
    const g = await this.api.call<Partial<Generation> | null>('POST', '/dream-machine/v1/generations', body);
    if (typeof g?.id !== 'string' || !g.id) throw new PermanentProviderError('other', 'luma: the create answer carried no generation id');
    return { upstreamId: g.id };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const g = await this.api.call<Generation>('GET', `/dream-machine/v1/generations/${encodeURIComponent(upstreamId)}`);
    switch (g.state) {
      case 'queued':
        return { state: 'queued' };
      case 'dreaming':
        return { state: 'running' };
      case 'completed': {
        const video = g.assets?.video;
        if (typeof video !== 'string' || !video) return { state: 'failed', code: 'upstream_error', message: 'luma: the generation completed without a video' };
        const image = g.assets?.image;
        return {
          state: 'succeeded',
          outputs: [
            { index: 0, video: { kind: 'url', url: video }, ...(typeof image === 'string' && image ? { thumbnail: { kind: 'url', url: image } } : {}) },
          ],
        };
      }
      case 'failed': {
        const reason = g.failure_reason ?? 'the generation failed';
        return { state: 'failed', code: POLICY.test(reason) ? 'content_policy_violation' : 'upstream_error', message: `luma: ${reason}` };
      }
      default:
        throw new PermanentProviderError('other', `luma: unknown generation state ${JSON.stringify(g.state)}`);
    }
  }

  fetchOutput(ref: OutputRef): Promise<Readable> {
    return downloadOutput('luma', ref, this.opts); // Luma's CDN links: the key is never sent there
  }

  /** Luma documents no way to stop a generation: it runs to its end and is then ignored. */
  async cancel(): Promise<void> {}

  async verifyWebhook(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null> {
    return unsignedWakeUp(req.body, upstreamId, (g) => ({ id: g.id, terminal: g.state === 'completed' || g.state === 'failed' }));
  }
}

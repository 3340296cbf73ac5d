import type { Readable } from 'node:stream';
import { requireApiKey, unsignedWakeUp, type HttpAdapterOptions } from '../adapter-kit';
import { downloadOutput } from '../download';
import { PermanentProviderError } from '../errors';
import { JsonApi } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { aspectRatioOf, dataUri, readInputImage, resolutionOf } from '../request-mapping';

/**
 * ByteDance Seedance on Volcengine Ark / BytePlus ModelArk content generation tasks
 * (https://docs.byteplus.com/en/docs/ModelArk/1520757, https://www.volcengine.com/docs/82379/1520757):
 * `POST /api/v3/contents/generations/tasks` with `model` and `content[]` (one text item, an
 * optional first-frame `image_url` item), `GET …/tasks/{id}`, `DELETE …/tasks/{id}` to cancel a
 * queued task. Statuses queued, running → succeeded (`content.video_url`, valid 24 h) / failed
 * (`error.code`) / cancelled / expired.
 *
 * The key belongs to one region: the base URL picks it (BytePlus `https://ark.ap-southeast.bytepluses.com`
 * by default, Volcengine `https://ark.cn-beijing.volces.com`). upstreamModel is the model id or an
 * `ep-…` endpoint id. The size maps onto `ratio` + `resolution`; the produced duration (the
 * answer's `duration`) is reported for billing.
 *
 * Callbacks are unsigned (the task object is POSTed on each status change): a wake-up only.
 * No idempotency key is documented: the task id is stored right after the create answers.
 */
interface ArkTask {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';
  error?: { code?: string; message?: string } | null;
  content?: { video_url?: string; last_frame_url?: string } | null;
  duration?: number;
}

const POLICY = /Sensitive|Risk/;

/** Ark errors: `{error: {code, message, param, type}}`; moderation codes end in SensitiveContentDetected. */
function readError(body: unknown, status: number): { message: string; contentPolicy: boolean } {
  const e = (body && typeof body === 'object' ? (body as { error?: { code?: unknown; message?: unknown } }).error : undefined) ?? {};
  const code = typeof e.code === 'string' ? e.code : '';
  const text = typeof e.message === 'string' ? e.message : typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${status}`;
  return { message: `seedance: ${text}${code ? ` (${code})` : ''}`, contentPolicy: status < 500 && POLICY.test(code) };
}

export class SeedanceProvider implements Provider {
  readonly name: string;
  private readonly api: JsonApi;

  constructor(private readonly opts: HttpAdapterOptions) {
    this.name = opts.name ?? 'seedance';
    const headers = { authorization: `Bearer ${opts.apiKey}` };
    this.api = new JsonApi(
      (opts.baseUrl ?? 'https://ark.ap-southeast.bytepluses.com').replace(/\/+$/, ''),
      () => headers,
      opts.requestTimeoutMs ?? 30_000,
      readError,
    );
  }

  /** From a catalog target: `credentials` names the Ark API key's variable; baseUrl picks the region. */
  static fromInit(init: ProviderInit): SeedanceProvider {
    return new SeedanceProvider({ apiKey: requireApiKey(init, 'seedance', 'the Ark API key'), baseUrl: init.baseUrl, requestTimeoutMs: init.requestTimeoutMs });
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    if (!req.upstreamModel)
      throw new PermanentProviderError('other', 'seedance: the catalog target needs an upstreamModel (a Seedance model id or ep-… endpoint)');
    if (req.n > 1) throw new PermanentProviderError('invalid_request', 'seedance: a task makes one video (n must be 1)');
    const image = await readInputImage(req);
    const content: unknown[] = [{ type: 'text', text: req.prompt ?? '' }];
    if (image) content.push({ type: 'image_url', image_url: { url: dataUri(image) }, role: 'first_frame' });
    const body: Record<string, unknown> = {
      model: req.upstreamModel,
      content,
      resolution: resolutionOf(req.width, req.height),
      ratio: aspectRatioOf(req.width, req.height),
      duration: Math.round(req.durationSeconds),
      seed: req.seed,
      ...(req.webhookUrl ? { callback_url: req.webhookUrl } : {}),
    };
    const task = await this.api.call<{ id?: unknown } | null>('POST', '/api/v3/contents/generations/tasks', body);
    if (typeof task?.id !== 'string' || !task.id) throw new PermanentProviderError('other', 'seedance: the create answer carried no task id');
    return { upstreamId: task.id };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const t = await this.api.call<ArkTask>('GET', `/api/v3/contents/generations/tasks/${encodeURIComponent(upstreamId)}`);
    switch (t.status) {
      case 'queued':
        return { state: 'queued' };
      case 'running':
        return { state: 'running' };
      case 'succeeded': {
        const url = t.content?.video_url;
        if (typeof url !== 'string' || !url) return { state: 'failed', code: 'upstream_error', message: 'seedance: the task succeeded without a video_url' };
        return {
          state: 'succeeded',
          outputs: [{ index: 0, video: { kind: 'url', url } }],
          ...(typeof t.duration === 'number' ? { producedSeconds: t.duration } : {}),
        };
      }
      case 'cancelled':
        return { state: 'failed', code: 'cancelled', message: 'seedance: the task was cancelled' };
      case 'expired':
        return { state: 'failed', code: 'upstream_error', message: 'seedance: the task expired before it ran' };
      case 'failed': {
        const code = t.error?.code ?? '';
        const message = `seedance: ${t.error?.message ?? 'the task failed'}${code ? ` (${code})` : ''}`;
        return { state: 'failed', code: POLICY.test(code) ? 'content_policy_violation' : 'upstream_error', message };
      }
      default:
        throw new PermanentProviderError('other', `seedance: unknown task status ${JSON.stringify(t.status)}`);
    }
  }

  fetchOutput(ref: OutputRef): Promise<Readable> {
    return downloadOutput('seedance', ref, this.opts); // pre-signed object-storage links: no key
  }

  /**
   * DELETE cancels a queued task. A running one cannot be stopped (Ark refuses) and a finished
   * one has nothing to stop: those refusals are not errors here.
   */
  async cancel(upstreamId: string): Promise<void> {
    const res = await this.api.send('DELETE', `/api/v3/contents/generations/tasks/${encodeURIComponent(upstreamId)}`);
    if (res.status === 400 || res.status === 404 || res.status === 409) return void (await res.body.dump());
    await this.api.read(res);
  }

  async verifyWebhook(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null> {
    return unsignedWakeUp(req.body, upstreamId, (t) => ({ id: t.id, terminal: ['succeeded', 'failed', 'cancelled', 'expired'].includes(String(t.status)) }));
  }
}

import type { Readable } from 'node:stream';
import { requireApiKey, unsignedWakeUp, type HttpAdapterOptions } from '../adapter-kit';
import { downloadOutput } from '../download';
import { parseRetryAfter, PermanentProviderError, RateLimitedError, TransientProviderError, type ProviderCallError } from '../errors';
import { headerOf, JsonApi, readBody } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { dataUri, readInputImage } from '../request-mapping';

/**
 * MiniMax Hailuo video generation (https://platform.minimax.io/docs/api-reference/video-generation-t2v):
 * `POST /v1/video_generation` → task_id, `GET /v1/query/video_generation?task_id=` (Preparing,
 * Queueing, Processing → Success with a file_id / Fail), then `GET /v1/files/retrieve?file_id=`
 * for a download URL (valid about 9 hours, so it is fetched right when the task succeeds).
 *
 * MiniMax answers HTTP 200 to most failures and says what went wrong in `base_resp.status_code`
 * (see minimaxError). upstreamModel is the model ("MiniMax-Hailuo-02"); the size's shorter side
 * becomes the resolution ("768P", "1080P"), the duration is 6 or 10 s; MiniMax validates them.
 * An input image is sent as a data URL in `first_frame_image`.
 *
 * Callbacks: before using a callback_url MiniMax POSTs `{challenge}` and expects it echoed
 * within 3 s (webhookChallenge); later deliveries carry the query answer, unsigned, so they only
 * wake the task for a poll. The v1 API has no cancel and no idempotency key.
 */
interface BaseResp {
  status_code?: number;
  status_msg?: string;
}

/**
 * base_resp codes: 1002 and 1039 rate limits, 1004 and 2049 authentication, 1008 insufficient
 * balance, 1026 / 1027 sensitive input / output, 2013 invalid parameters; 1000, 1001 and 1013
 * are MiniMax-side errors worth retrying.
 */
function minimaxError(base: BaseResp, httpStatus: number, retryAfter?: string): ProviderCallError {
  const code = base.status_code;
  const message = `minimax: ${base.status_msg || `HTTP ${httpStatus}`}${code !== undefined ? ` (${code})` : ''}`;
  if (code === 1002 || code === 1039 || httpStatus === 429) return new RateLimitedError(message, parseRetryAfter(retryAfter));
  if (code === 1004 || code === 2049 || code === 1008) return new PermanentProviderError('auth', message, httpStatus);
  if (code === 1026 || code === 1027) return new PermanentProviderError('content_policy', message, httpStatus);
  if (code === 2013) return new PermanentProviderError('invalid_request', message, httpStatus);
  if (code === 1000 || code === 1001 || code === 1013 || httpStatus >= 500) return new TransientProviderError('server', message, httpStatus);
  if (httpStatus === 401 || httpStatus === 403) return new PermanentProviderError('auth', message, httpStatus);
  return new PermanentProviderError('invalid_request', message, httpStatus);
}

export class MiniMaxProvider implements Provider {
  readonly name: string;
  private readonly api: JsonApi;

  constructor(private readonly opts: HttpAdapterOptions) {
    this.name = opts.name ?? 'minimax';
    const headers = { authorization: `Bearer ${opts.apiKey}` };
    this.api = new JsonApi(
      (opts.baseUrl ?? 'https://api.minimax.io').replace(/\/+$/, ''),
      () => headers,
      opts.requestTimeoutMs ?? 30_000,
      () => ({ message: '' }),
    );
  }

  /** From a catalog target: `credentials` names the MiniMax API key's variable (baseUrl https://api.minimaxi.com for the China platform). */
  static fromInit(init: ProviderInit): MiniMaxProvider {
    return new MiniMaxProvider({
      apiKey: requireApiKey(init, 'minimax', 'the MiniMax API key'),
      baseUrl: init.baseUrl,
      requestTimeoutMs: init.requestTimeoutMs,
    });
  }

  /**
   * One call whose answer carries base_resp: its body when the code is 0 (or `keep` says the body
   * reports the failure itself, as a failed task's query does), else the error the code names.
   */
  private async call<T extends { base_resp?: BaseResp }>(method: 'GET' | 'POST', path: string, json?: unknown, keep?: (body: T) => boolean): Promise<T> {
    const res = await this.api.send(method, path, json);
    const raw = await readBody(res);
    const body = raw && typeof raw === 'object' ? (raw as T) : null; // not JSON (a proxy's error page): reported by status below
    const base = body?.base_resp ?? {};
    if (res.status >= 200 && res.status < 300 && body && ((base.status_code ?? 0) === 0 || keep?.(body))) return body;
    throw minimaxError(
      body ? base : { status_msg: typeof raw === 'string' ? raw.slice(0, 300) : '' },
      res.status,
      headerOf(res.headers, 'retry-after') || undefined,
    );
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    if (!req.upstreamModel) throw new PermanentProviderError('other', 'minimax: the catalog target needs an upstreamModel (e.g. "MiniMax-Hailuo-02")');
    if (req.n > 1) throw new PermanentProviderError('invalid_request', 'minimax: a task makes one video (n must be 1)');
    const image = await readInputImage(req);
    const body: Record<string, unknown> = {
      model: req.upstreamModel,
      prompt: req.prompt ?? '',
      duration: Math.round(req.durationSeconds),
      resolution: `${Math.min(req.width, req.height)}P`,
      ...(image ? { first_frame_image: dataUri(image) } : {}),
      ...(typeof req.metadata.prompt_optimizer === 'boolean' ? { prompt_optimizer: req.metadata.prompt_optimizer } : {}),
      ...(req.webhookUrl ? { callback_url: req.webhookUrl } : {}),
    };
    const created = await this.call<{ task_id?: unknown; base_resp?: BaseResp }>('POST', '/v1/video_generation', body);
    if (typeof created.task_id !== 'string' || !created.task_id) throw new PermanentProviderError('other', 'minimax: the create answer carried no task_id');
    return { upstreamId: created.task_id };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const t = await this.call<{ status?: string; file_id?: unknown; base_resp?: BaseResp }>(
      'GET',
      `/v1/query/video_generation?task_id=${encodeURIComponent(upstreamId)}`,
      undefined,
      (b) => b.status === 'Fail',
    );
    switch (t.status) {
      case 'Preparing':
      case 'Queueing':
        return { state: 'queued' };
      case 'Processing':
        return { state: 'running' };
      case 'Success': {
        const fileId = t.file_id;
        if ((typeof fileId !== 'string' && typeof fileId !== 'number') || fileId === '')
          return { state: 'failed', code: 'upstream_error', message: 'minimax: the task succeeded without a file_id' };
        const file = await this.call<{ file?: { download_url?: unknown }; base_resp?: BaseResp }>(
          'GET',
          `/v1/files/retrieve?file_id=${encodeURIComponent(String(fileId))}`,
        );
        const url = file.file?.download_url;
        if (typeof url !== 'string' || !url) return { state: 'failed', code: 'upstream_error', message: 'minimax: the file answer carried no download_url' };
        return { state: 'succeeded', outputs: [{ index: 0, video: { kind: 'url', url } }] };
      }
      case 'Fail': {
        const code = t.base_resp?.status_code;
        const message = `minimax: ${t.base_resp?.status_msg || 'the video generation failed'}${code ? ` (${code})` : ''}`;
        return { state: 'failed', code: code === 1026 || code === 1027 ? 'content_policy_violation' : 'upstream_error', message };
      }
      default:
        throw new PermanentProviderError('other', `minimax: unknown task status ${JSON.stringify(t.status)}`);
    }
  }

  fetchOutput(ref: OutputRef): Promise<Readable> {
    return downloadOutput('minimax', ref, this.opts); // a signed storage link: the key is never sent there
  }

  /** The v1 API documents no way to stop a task: it runs to its end and is then ignored. */
  async cancel(): Promise<void> {}

  /** MiniMax checks a callback URL by POSTing `{challenge}` and expecting the same value back. */
  webhookChallenge(req: UpstreamWebhookRequest): unknown {
    try {
      const body = JSON.parse(req.body.toString('utf8')) as { challenge?: unknown };
      if (typeof body.challenge === 'string' || typeof body.challenge === 'number') return { challenge: body.challenge };
    } catch {
      // not the check
    }
    return undefined;
  }

  async verifyWebhook(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null> {
    return unsignedWakeUp(req.body, upstreamId, (t) => ({ id: t.task_id, terminal: /^(success|fail)/i.test(String(t.status)) }));
  }
}

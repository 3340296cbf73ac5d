import { credentialFrom } from '@reelay/config';
import { createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { requireApiKey, stringOption, unsignedWakeUp, type HttpAdapterOptions } from '../adapter-kit';
import { downloadOutput } from '../download';
import { parseRetryAfter, PermanentProviderError, RateLimitedError, TransientProviderError, type ProviderCallError } from '../errors';
import { headerOf, JsonApi, readBody, type UpstreamResponse } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest, UpstreamWebhookEvent, UpstreamWebhookRequest } from '../provider';
import { aspectRatioOf, readInputImage } from '../request-mapping';

/**
 * Kling's official API (https://app.klingai.com/global/dev/document-api): `POST /v1/videos/text2video`
 * or `/v1/videos/image2video`, then `GET /v1/videos/{action}/{task_id}` (submitted, processing →
 * succeed / failed with `task_status_msg`). Every answer is `{code, message, request_id, data}`;
 * `code` 0 is success, the others say why (see klingError).
 *
 * Auth is a JWT the caller signs: HS256 over `{iss: access key, exp: now + 30 min, nbf: now - 5 s}`
 * with the secret key, header `{alg: HS256, typ: JWT}`, sent as a Bearer token. It is signed here
 * with node:crypto's HMAC (three base64url parts; no library needed for one fixed algorithm) and
 * reused until five minutes before it expires.
 *
 * Idempotent submit: every create carries `external_task_id` = the Reelay task id. A create that
 * Kling refuses (a resubmit after a crash, whose id already exists) is followed by a look-up of
 * that external id; when Kling has the task, its id is returned instead of failing.
 *
 * The stored upstream id is "<action>/<task_id>" because the query path needs the action.
 * Callbacks (`callback_url`) are unsigned: a wake-up only. Kling documents no cancel.
 */
export interface KlingOptions extends HttpAdapterOptions {
  /** The secret key that signs the JWT (apiKey is the access key). */
  secretKey: string;
  /** "std" or "pro" (Kling's generation mode; default std). */
  mode?: string;
}

interface KlingTask {
  task_id: string;
  task_status: 'submitted' | 'processing' | 'succeed' | 'failed';
  task_status_msg?: string;
  task_result?: { videos?: Array<{ id?: string; url?: string; duration?: string }> };
}

const TOKEN_TTL_S = 1800;
const POLICY = /risk|moderat|content secur|sensitive|violat/i;

/** The Bearer JWT Kling expects, signed with the secret key. */
export function klingToken(accessKey: string, secretKey: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signingInput = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ iss: accessKey, exp: nowSeconds + TOKEN_TTL_S, nbf: nowSeconds - 5 })}`;
  return `${signingInput}.${createHmac('sha256', secretKey).update(signingInput).digest('base64url')}`;
}

/**
 * Kling's service codes: 1000-1004 authentication, 1100-1102 account (arrears, no resource
 * pack: answered 429 but not a rate limit), 1103 no permission, 1200-1203 bad request, 1300-1301
 * platform policy / content security, 1302 rate limit, 1303 concurrency or resource limit,
 * 1304 IP allow-list, 5000-5002 server errors.
 */
function klingError(status: number, body: unknown, retryAfter?: string): ProviderCallError {
  const b = (body && typeof body === 'object' ? body : {}) as { code?: unknown; message?: unknown };
  const code = typeof b.code === 'number' ? b.code : undefined;
  const message = `kling: ${typeof b.message === 'string' ? b.message : `HTTP ${status}`}${code !== undefined ? ` (${code})` : ''}`;
  if (code === 1302 || code === 1303) return new RateLimitedError(message, parseRetryAfter(retryAfter));
  if (code !== undefined && ((code >= 1000 && code <= 1004) || (code >= 1100 && code <= 1103) || code === 1304))
    return new PermanentProviderError('auth', message, status);
  if (code === 1301) return new PermanentProviderError('content_policy', message, status);
  if (code !== undefined && code >= 1200 && code <= 1300) return new PermanentProviderError('invalid_request', message, status);
  if (status === 429) return new RateLimitedError(message, parseRetryAfter(retryAfter));
  if (status >= 500 || status === 408 || (code !== undefined && code >= 5000)) return new TransientProviderError('server', message, status);
  if (status === 401 || status === 403) return new PermanentProviderError('auth', message, status);
  return new PermanentProviderError('invalid_request', message, status);
}

export class KlingProvider implements Provider {
  readonly name: string;
  private readonly api: JsonApi;
  private token: { value: string; expires: number } | undefined;

  constructor(private readonly opts: KlingOptions) {
    this.name = opts.name ?? 'kling';
    // Errors are read by klingError (service codes), so the JsonApi reader is never used for them.
    this.api = new JsonApi(
      (opts.baseUrl ?? 'https://api-singapore.klingai.com').replace(/\/+$/, ''),
      () => ({ authorization: `Bearer ${this.bearer()}` }),
      opts.requestTimeoutMs ?? 30_000,
      () => ({ message: '' }),
    );
  }

  /** From a catalog target: `credentials` names the access key's variable, options.secretKeyEnv the secret key's. */
  static fromInit(init: ProviderInit): KlingProvider {
    const accessKey = requireApiKey(init, 'kling', 'the Kling access key');
    const secretEnv = stringOption(init, 'kling', 'secretKeyEnv');
    if (!secretEnv) throw new Error('model catalog: a kling target needs options.secretKeyEnv (the variable holding the Kling secret key)');
    return new KlingProvider({
      apiKey: accessKey,
      secretKey: credentialFrom(init.config, secretEnv),
      mode: stringOption(init, 'kling', 'mode', ['std', 'pro']),
      baseUrl: init.baseUrl,
      requestTimeoutMs: init.requestTimeoutMs,
    });
  }

  private bearer(): string {
    const now = Math.floor(Date.now() / 1000);
    if (!this.token || this.token.expires - now < 300)
      this.token = { value: klingToken(this.opts.apiKey, this.opts.secretKey, now), expires: now + TOKEN_TTL_S };
    return this.token.value;
  }

  /** The `data` of a Kling answer, or the error its code says. */
  private async data<T>(res: UpstreamResponse): Promise<T> {
    const body = await readBody(res);
    const code = (body as { code?: unknown } | null)?.code;
    if (res.status >= 200 && res.status < 300 && (code === 0 || code === undefined)) return (body as { data?: T } | null)?.data as T;
    throw klingError(res.status, typeof body === 'string' ? { message: body.slice(0, 300) } : body, headerOf(res.headers, 'retry-after') || undefined);
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    if (!req.upstreamModel) throw new PermanentProviderError('other', 'kling: the catalog target needs an upstreamModel (e.g. "kling-v2-master")');
    if (req.n > 1) throw new PermanentProviderError('invalid_request', 'kling: a task makes one video (n must be 1)');
    const image = await readInputImage(req);
    const action = image ? 'image2video' : 'text2video';
    const body: Record<string, unknown> = {
      model_name: req.upstreamModel,
      ...(req.prompt ? { prompt: req.prompt } : {}),
      ...(typeof req.metadata.negative_prompt === 'string' ? { negative_prompt: req.metadata.negative_prompt } : {}),
      ...(typeof req.metadata.cfg_scale === 'number' ? { cfg_scale: req.metadata.cfg_scale } : {}),
      mode: this.opts.mode ?? 'std',
      duration: String(Math.round(req.durationSeconds)),
      // image2video takes its shape from the image; text2video needs the ratio.
      ...(image ? { image: image.bytes.toString('base64') } : { aspect_ratio: aspectRatioOf(req.width, req.height) }),
      ...(req.webhookUrl ? { callback_url: req.webhookUrl } : {}),
      external_task_id: req.idempotencyKey,
    };
    let created: { task_id?: unknown } | null;
    try {
      created = await this.data<{ task_id?: unknown } | null>(await this.api.send('POST', `/v1/videos/${action}`, body));
    } catch (err) {
      const existing =
        err instanceof PermanentProviderError && err.reason === 'invalid_request' ? await this.byExternalId(action, req.idempotencyKey) : undefined;
      if (existing) return { upstreamId: `${action}/${existing}` };
      throw err;
    }
    if (typeof created?.task_id !== 'string' || !created.task_id) throw new PermanentProviderError('other', 'kling: the create answer carried no task_id');
    return { upstreamId: `${action}/${created.task_id}` };
  }

  /** The task id Kling holds under our external id, if any (the query path takes either id). */
  private async byExternalId(action: string, externalId: string): Promise<string | undefined> {
    try {
      const task = await this.data<Partial<KlingTask> | null>(await this.api.send('GET', `/v1/videos/${action}/${encodeURIComponent(externalId)}`));
      return typeof task?.task_id === 'string' ? task.task_id : undefined;
    } catch {
      return undefined;
    }
  }

  private split(upstreamId: string): { action: string; taskId: string } {
    const m = /^(text2video|image2video)\/(.+)$/.exec(upstreamId);
    if (!m) throw new PermanentProviderError('other', `kling: "${upstreamId}" is not a kling upstream id`);
    return { action: m[1]!, taskId: m[2]! };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const { action, taskId } = this.split(upstreamId);
    const t = await this.data<KlingTask>(await this.api.send('GET', `/v1/videos/${action}/${encodeURIComponent(taskId)}`));
    switch (t.task_status) {
      case 'submitted':
        return { state: 'queued' };
      case 'processing':
        return { state: 'running' };
      case 'succeed': {
        const videos = (t.task_result?.videos ?? []).filter((v): v is { url: string; duration?: string } => typeof v?.url === 'string');
        if (videos.length === 0) return { state: 'failed', code: 'upstream_error', message: 'kling: the task succeeded without a video' };
        const seconds = videos.reduce((s, v) => s + (Number(v.duration) || 0), 0);
        return {
          state: 'succeeded',
          outputs: videos.map((v, index) => ({ index, video: { kind: 'url', url: v.url } })),
          ...(seconds > 0 ? { producedSeconds: seconds } : {}),
        };
      }
      case 'failed': {
        const reason = t.task_status_msg || 'the task failed';
        return { state: 'failed', code: POLICY.test(reason) ? 'content_policy_violation' : 'upstream_error', message: `kling: ${reason}` };
      }
      default:
        throw new PermanentProviderError('other', `kling: unknown task status ${JSON.stringify(t.task_status)}`);
    }
  }

  fetchOutput(ref: OutputRef): Promise<Readable> {
    return downloadOutput('kling', ref, this.opts); // Kling's CDN: the JWT is never sent there
  }

  /** Kling documents no way to stop a task: it runs to its end and is then ignored. */
  async cancel(): Promise<void> {}

  async verifyWebhook(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null> {
    const { taskId } = this.split(upstreamId);
    return unsignedWakeUp(req.body, taskId, (t) => ({ id: t.task_id, terminal: t.task_status === 'succeed' || t.task_status === 'failed' }));
  }
}

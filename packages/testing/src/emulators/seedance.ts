/**
 * A loopback emulator of Seedance video generation on BytePlus ModelArk / Volcengine Ark, following
 * the public docs:
 *   https://www.volcengine.com/docs/82379/1520757  (Seedance video generation guide: POST /api/v3/contents/generations/tasks
 *     with model, content[] holding one text item and image_url items (role first_frame), resolution, ratio, duration,
 *     seed, callback_url → {id}; GET …/tasks/{id}; statuses queued, running, succeeded, failed, cancelled, expired;
 *     content.video_url valid 24 h, task records kept 7 days)
 *   https://www.volcengine.com/docs/82379/1521309  (API reference section: create / query / "cancel or delete" task —
 *     DELETE cancels a queued task and deletes a finished record; a running task cannot be cancelled)
 *   Ark's error-code table (API reference, 其他说明 / error codes): body {error: {code, message, param, type}}; moderation
 *     codes such as InputTextSensitiveContentDetected, InputImageSensitiveContentDetected.PrivacyInformation,
 *     InputTextRiskDetection, OutputImageRiskDetection (400); AuthenticationError (401)
 *   https://docs.byteplus.com/en/docs/ModelArk  (the same API at ark.ap-southeast.bytepluses.com with BytePlus keys)
 * Callbacks: the task object POSTed to callback_url when its status changes; no signature is documented.
 * Not found in the docs searched: the exact answer to DELETE on a running task (here 400
 * InvalidParameter) and each model's exact duration range (here 3-12 s).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendJson, ServedFiles, type LoggedRequest } from './kit';

type ArkStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';

export interface EmulatedArkTask {
  id: string;
  body: Record<string, unknown>;
  status: ArkStatus;
  error: { code: string; message: string } | null;
  callbackUrl?: string;
  polls: number;
}

export interface SeedanceEmulatorOptions {
  apiKey: string;
  video: Buffer;
  /** 'auto': each GET moves a task one step (queued → running → succeeded); 'manual': it stays running. */
  mode?: 'auto' | 'manual';
}

const RATIOS = ['16:9', '4:3', '1:1', '3:4', '9:16', '21:9', 'adaptive'];
const RESOLUTIONS = ['480p', '720p', '1080p'];

export class SeedanceEmulator extends Emulator {
  readonly tasks = new Map<string, EmulatedArkTask>();
  readonly files = new ServedFiles(403);
  mode: 'auto' | 'manual';

  constructor(private readonly opts: SeedanceEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
  }

  task(id: string): Record<string, unknown> {
    const t = this.tasks.get(id)!;
    const out: Record<string, unknown> = {
      id: t.id,
      model: t.body.model,
      status: t.status,
      created_at: Math.floor(Date.now() / 1000),
      updated_at: Math.floor(Date.now() / 1000),
      seed: t.body.seed ?? 11,
      resolution: t.body.resolution ?? '720p',
      ratio: t.body.ratio ?? '16:9',
      duration: t.body.duration ?? 5,
      framespersecond: 24,
    };
    if (t.status === 'succeeded') {
      out.content = { video_url: `${this.url}${this.files.add(t.id, this.opts.video)}?X-Tos-Signature=emulated` };
      out.usage = { completion_tokens: 108900, total_tokens: 108900 };
    }
    if (t.error) out.error = t.error;
    return out;
  }

  async setStatus(id: string, status: ArkStatus, error: EmulatedArkTask['error'] = null): Promise<void> {
    const t = this.tasks.get(id)!;
    t.status = status;
    t.error = error;
    if (t.callbackUrl) await this.deliver(t.callbackUrl, JSON.stringify(this.task(id)), { 'content-type': 'application/json' }).catch(() => 0);
  }

  protected async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    if (this.files.serve(req, res)) return;
    const fail = (status: number, code: string, message: string, param?: string): void =>
      sendJson(res, status, { error: { code, message, param: param ?? '', type: status === 401 ? 'Unauthorized' : 'BadRequest' } });
    if (req.headers.authorization !== `Bearer ${this.opts.apiKey}`)
      return fail(401, 'AuthenticationError', 'The API key in the request is missing or invalid.');
    if (req.method === 'POST' && req.path === '/api/v3/contents/generations/tasks') return this.create(req, fail, res);
    const m = /^\/api\/v3\/contents\/generations\/tasks\/([^/]+)$/.exec(req.path);
    const t = m ? this.tasks.get(m[1]!) : undefined;
    if (!t) return fail(404, 'ResourceNotFound', 'The specified task is not found.');
    if (req.method === 'DELETE') {
      if (t.status === 'running') return fail(400, 'InvalidParameter', 'A running task cannot be cancelled.');
      if (t.status === 'queued') await this.setStatus(t.id, 'cancelled');
      else this.tasks.delete(t.id);
      return sendJson(res, 200, {});
    }
    t.polls++;
    if (t.polls > 1 && t.status === 'queued') await this.setStatus(t.id, 'running');
    else if (t.polls > 1 && t.status === 'running' && this.mode === 'auto') {
      const text = String((t.body.content as Array<{ text?: string }>)[0]?.text);
      if (text.includes('unsafe'))
        await this.setStatus(t.id, 'failed', {
          code: 'OutputVideoSensitiveContentDetected',
          message: 'The request failed because the output video may contain sensitive information.',
        });
      else if (text.includes('fail'))
        await this.setStatus(t.id, 'failed', { code: 'InternalServiceError', message: 'The service encountered an unexpected internal error.' });
      else await this.setStatus(t.id, 'succeeded');
    }
    sendJson(res, 200, this.task(t.id));
  }

  private create(req: LoggedRequest, fail: (s: number, c: string, m: string, p?: string) => void, res: ServerResponse): void {
    const b = (req.json ?? {}) as Record<string, unknown>;
    if (typeof b.model !== 'string' || !b.model)
      return fail(400, 'MissingParameter', 'The request failed because it is missing one or multiple required parameters.', 'model');
    const content = Array.isArray(b.content) ? (b.content as Array<Record<string, unknown>>) : [];
    const texts = content.filter((c) => c.type === 'text');
    if (texts.length !== 1 || typeof texts[0]!.text !== 'string')
      return fail(400, 'InvalidParameter', 'content must include exactly one text item.', 'content');
    if (String(texts[0]!.text).includes('sensitive'))
      return fail(400, 'InputTextSensitiveContentDetected', 'The request failed because the input text may contain sensitive information.');
    if (b.ratio !== undefined && !RATIOS.includes(String(b.ratio)))
      return fail(400, 'InvalidParameter', `The parameter ratio specified in the request is not valid: ${String(b.ratio)}`, 'ratio');
    if (b.resolution !== undefined && !RESOLUTIONS.includes(String(b.resolution)))
      return fail(400, 'InvalidParameter', `The parameter resolution specified in the request is not valid: ${String(b.resolution)}`, 'resolution');
    if (b.duration !== undefined && (!Number.isInteger(b.duration) || (b.duration as number) < 3 || (b.duration as number) > 12)) {
      return fail(400, 'InvalidParameter', `The parameter duration specified in the request is not valid: ${String(b.duration)}`, 'duration');
    }
    const id = `cgt-${randomUUID().replace(/-/g, '').slice(0, 20)}`;
    this.tasks.set(id, { id, body: b, status: 'queued', error: null, callbackUrl: typeof b.callback_url === 'string' ? b.callback_url : undefined, polls: 0 });
    sendJson(res, 200, { id });
  }
}

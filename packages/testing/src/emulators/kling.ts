/**
 * A loopback emulator of Kling's official API, following its public docs:
 *   https://app.klingai.com/global/dev/document-api/apiReference/commonInfo  (domain api-singapore.klingai.com;
 *     JWT auth: HS256, header {alg, typ: JWT}, payload {iss: access key, exp, nbf}, signed with the secret key,
 *     sent as "Authorization: Bearer <token>"; error table: HTTP status + service code 1000-1004 auth (401),
 *     1100-1102 account / arrears / resource pack (429), 1103 permission (403), 1200-1203 bad request (400/404),
 *     1300-1301 policy / content security (400), 1302 rate limit (429), 1303 concurrency or resource limit (429),
 *     1304 IP allow-list (401), 5000-5002 server (500/503/504))
 *   https://app.klingai.com/global/dev/document-api/apiReference/model/textToVideo and …/imageToVideo
 *     (POST /v1/videos/text2video | image2video: model_name, prompt, negative_prompt, cfg_scale, mode std|pro,
 *     aspect_ratio 16:9|9:16|1:1 (text2video), duration "5"|"10", image (Base64 without a data: prefix, or a URL),
 *     callback_url, external_task_id; GET /v1/videos/{action}/{id}: task_status submitted | processing | succeed |
 *     failed, task_status_msg, task_result.videos[{id, url, duration}])
 *   https://app.klingai.com/global/dev/document-api/apiReference/callbackProtocol  (the task object POSTed to
 *     callback_url on status changes; no signature)
 * Not found in the docs searched, so assumed and kept minimal: the answer to a create whose
 * external_task_id already exists (here 400, code 1201), and that GET /v1/videos/{action}/{id}
 * accepts the external_task_id in place of the task_id.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendJson, ServedFiles, type LoggedRequest } from './kit';

type KlingStatus = 'submitted' | 'processing' | 'succeed' | 'failed';

export interface EmulatedKlingTask {
  id: string;
  action: 'text2video' | 'image2video';
  body: Record<string, unknown>;
  status: KlingStatus;
  statusMsg: string;
  externalTaskId?: string;
  polls: number;
}

export interface KlingEmulatorOptions {
  accessKey: string;
  secretKey: string;
  video: Buffer;
  /** 'auto': each GET moves a task one step (submitted → processing → succeed); 'manual': it stays processing. */
  mode?: 'auto' | 'manual';
}

export class KlingEmulator extends Emulator {
  readonly tasks = new Map<string, EmulatedKlingTask>();
  readonly files = new ServedFiles();
  mode: 'auto' | 'manual';

  constructor(private readonly opts: KlingEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
  }

  /** Why a Bearer token is refused (code and message), or null when it verifies. */
  private checkToken(authorization: string | string[] | undefined): [number, string] | null {
    const token = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
    if (!token) return [1001, 'Authorization is empty'];
    const [h, p, s] = token.split('.');
    if (!h || !p || !s) return [1002, 'Authorization is invalid'];
    const expected = createHmac('sha256', this.opts.secretKey).update(`${h}.${p}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return [1002, 'Authorization is invalid'];
    let header: { alg?: string; typ?: string };
    let claims: { iss?: string; exp?: number; nbf?: number };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString());
      claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    } catch {
      return [1002, 'Authorization is invalid'];
    }
    if (header.alg !== 'HS256' || header.typ !== 'JWT' || claims.iss !== this.opts.accessKey) return [1002, 'Authorization is invalid'];
    const now = Date.now() / 1000;
    if (typeof claims.nbf !== 'number' || claims.nbf > now) return [1003, 'Authorization is not yet valid'];
    if (typeof claims.exp !== 'number' || claims.exp <= now) return [1004, 'Authorization has expired'];
    return null;
  }

  /** The task object, as queries answer it and callbacks carry it. */
  task(id: string): Record<string, unknown> {
    const t = this.tasks.get(id)!;
    return {
      task_id: t.id,
      task_status: t.status,
      task_status_msg: t.statusMsg,
      task_info: t.externalTaskId ? { external_task_id: t.externalTaskId } : {},
      created_at: Date.now(),
      updated_at: Date.now(),
      ...(t.status === 'succeed'
        ? {
            task_result: {
              videos: [{ id: `${t.id}-v`, url: `${this.url}${this.files.add(t.id, this.opts.video)}`, duration: String(t.body.duration ?? '5') }],
            },
          }
        : {}),
    };
  }

  async setStatus(id: string, status: KlingStatus, statusMsg = ''): Promise<void> {
    const t = this.tasks.get(id)!;
    t.status = status;
    t.statusMsg = statusMsg;
    const callback = t.body.callback_url;
    if (typeof callback === 'string') await this.deliver(callback, JSON.stringify(this.task(id)), { 'content-type': 'application/json' }).catch(() => 0);
  }

  protected async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    if (this.files.serve(req, res)) return;
    const reply = (status: number, code: number, message: string, data: unknown = null): void =>
      sendJson(res, status, { code, message, request_id: randomUUID(), data });
    const refused = this.checkToken(req.headers.authorization);
    if (refused) return reply(401, refused[0], refused[1]);
    const create = /^\/v1\/videos\/(text2video|image2video)$/.exec(req.path);
    if (create && req.method === 'POST') return this.create(create[1] as EmulatedKlingTask['action'], req, reply);
    const query = /^\/v1\/videos\/(text2video|image2video)\/([^/]+)$/.exec(req.path);
    if (query && req.method === 'GET') {
      const t = this.tasks.get(query[2]!) ?? [...this.tasks.values()].find((x) => x.externalTaskId === query[2]);
      if (!t || t.action !== query[1]) return reply(404, 1203, 'task not found');
      t.polls++;
      if (t.polls > 1 && t.status === 'submitted') await this.setStatus(t.id, 'processing');
      else if (t.polls > 1 && t.status === 'processing' && this.mode === 'auto') {
        const prompt = String(t.body.prompt ?? '');
        if (prompt.includes('unsafe')) await this.setStatus(t.id, 'failed', 'Failure to pass the risk control system');
        else if (prompt.includes('fail')) await this.setStatus(t.id, 'failed', 'internal error, please try again');
        else await this.setStatus(t.id, 'succeed');
      }
      return reply(200, 0, 'SUCCEED', this.task(t.id));
    }
    reply(404, 1202, 'invalid request path');
  }

  private create(action: EmulatedKlingTask['action'], req: LoggedRequest, reply: (s: number, c: number, m: string, d?: unknown) => void): void {
    const b = (req.json ?? {}) as Record<string, unknown>;
    if (typeof b.model_name !== 'string') return reply(400, 1201, 'model_name is invalid');
    if (action === 'text2video' && (typeof b.prompt !== 'string' || !b.prompt)) return reply(400, 1201, 'prompt is required');
    if (action === 'image2video' && (typeof b.image !== 'string' || b.image.startsWith('data:')))
      return reply(400, 1201, 'image is invalid: Base64 without a data: prefix, or a URL');
    if (action === 'text2video' && !['16:9', '9:16', '1:1'].includes(String(b.aspect_ratio ?? '16:9')))
      return reply(400, 1201, `aspect_ratio value '${String(b.aspect_ratio)}' is invalid`);
    if (!['5', '10'].includes(String(b.duration ?? '5'))) return reply(400, 1201, `duration value '${String(b.duration)}' is invalid`);
    if (!['std', 'pro'].includes(String(b.mode ?? 'std'))) return reply(400, 1201, `mode value '${String(b.mode)}' is invalid`);
    if (String(b.prompt ?? '').includes('sensitive')) return reply(400, 1301, 'Trigger the content security policy of the platform');
    const external = typeof b.external_task_id === 'string' ? b.external_task_id : undefined;
    if (external && [...this.tasks.values()].some((t) => t.externalTaskId === external)) return reply(400, 1201, 'external_task_id already exists');
    const id = String(800_000_000_000 + this.tasks.size);
    this.tasks.set(id, { id, action, body: b, status: 'submitted', statusMsg: '', externalTaskId: external, polls: 0 });
    reply(200, 0, 'SUCCEED', {
      task_id: id,
      task_status: 'submitted',
      task_info: external ? { external_task_id: external } : {},
      created_at: Date.now(),
      updated_at: Date.now(),
    });
  }
}

/**
 * A loopback emulator of MiniMax's video generation API (v1), following its public docs:
 *   https://platform.minimax.io/docs/api-reference/video/generation/api/openapi.json  (POST /v1/video_generation:
 *     model, prompt, duration, resolution, first_frame_image, prompt_optimizer, callback_url → {task_id, base_resp};
 *     GET /v1/query/video_generation?task_id= → status Preparing | Queueing | Processing | Success | Fail, file_id,
 *     video_width, video_height; GET /v1/files/retrieve?file_id= → {file: {file_id, bytes, filename, download_url}})
 *   https://platform.minimax.io/docs/api-reference/video-generation-s2v  (callback_url: MiniMax first POSTs a
 *     `challenge` that must be echoed within 3 s, then POSTs the query answer on status changes; no signature)
 *   https://platform.minimaxi.com/docs/api-reference/video-generation-v2-regeneration  (the error codes: 1002 rate
 *     limit, 1004 authentication, 1008 insufficient balance, 1026 sensitive content, 2013 invalid parameters, 1000
 *     internal error); on the v1 API they come in base_resp.status_code with HTTP 200
 * Durations 6 | 10 and resolutions 512P | 720P | 768P | 1080P follow the Hailuo-02 model pages; the
 * download URL is valid for about 9 hours.
 * Not found in the docs searched, so assumed: that the challenge comes while the create is being
 * answered and a URL that does not echo it makes the create fail (here 2013); code 1027 for a
 * sensitive output; the status_msg wording.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendJson, ServedFiles, type LoggedRequest } from './kit';

type MiniMaxStatus = 'Preparing' | 'Queueing' | 'Processing' | 'Success' | 'Fail';

export interface EmulatedMiniMaxTask {
  id: string;
  body: Record<string, unknown>;
  status: MiniMaxStatus;
  failure?: { status_code: number; status_msg: string };
  fileId?: string;
  polls: number;
}

export interface MiniMaxEmulatorOptions {
  apiKey: string;
  video: Buffer;
  /** 'auto': each query moves a task one step (Preparing → Queueing → Processing → Success); 'manual': it stays Processing. */
  mode?: 'auto' | 'manual';
}

const RESOLUTIONS = ['512P', '720P', '768P', '1080P'];

export class MiniMaxEmulator extends Emulator {
  readonly tasks = new Map<string, EmulatedMiniMaxTask>();
  readonly files = new ServedFiles(403);
  mode: 'auto' | 'manual';
  /** Challenge checks sent to callback URLs, with whether the answer echoed the challenge. */
  readonly challenges: Array<{ url: string; echoed: boolean }> = [];

  constructor(private readonly opts: MiniMaxEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
  }

  private ok = (res: ServerResponse, body: Record<string, unknown>): void =>
    sendJson(res, 200, { ...body, base_resp: { status_code: 0, status_msg: 'success' } });
  private fail = (res: ServerResponse, status_code: number, status_msg: string): void => sendJson(res, 200, { base_resp: { status_code, status_msg } });

  /** The query answer, which callbacks also carry. */
  query(id: string): Record<string, unknown> {
    const t = this.tasks.get(id)!;
    return {
      task_id: t.id,
      status: t.status,
      file_id: t.status === 'Success' ? t.fileId : '',
      video_width: t.status === 'Success' ? 1366 : 0,
      video_height: t.status === 'Success' ? 768 : 0,
      base_resp: t.failure ?? { status_code: 0, status_msg: 'success' },
    };
  }

  async setStatus(id: string, status: MiniMaxStatus, failure?: EmulatedMiniMaxTask['failure']): Promise<void> {
    const t = this.tasks.get(id)!;
    t.status = status;
    t.failure = failure;
    if (status === 'Success') t.fileId = String(200_000_000_000 + this.tasks.size);
    const callback = t.body.callback_url;
    if (typeof callback === 'string') await this.deliver(callback, JSON.stringify(this.query(id)), { 'content-type': 'application/json' }).catch(() => 0);
  }

  protected async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    if (this.files.serve(req, res)) return;
    if (req.headers.authorization !== `Bearer ${this.opts.apiKey}`)
      return this.fail(res, 1004, 'login fail: Please carry the API secret key in the Authorization field of the request header');
    if (req.method === 'POST' && req.path === '/v1/video_generation') return this.create(req, res);
    if (req.method === 'GET' && req.path === '/v1/query/video_generation') {
      const t = this.tasks.get(req.query.get('task_id') ?? '');
      if (!t) return this.fail(res, 2013, 'invalid params, task_id not found');
      t.polls++;
      const next: Partial<Record<MiniMaxStatus, MiniMaxStatus>> = { Preparing: 'Queueing', Queueing: 'Processing' };
      if (t.polls > 1 && next[t.status]) await this.setStatus(t.id, next[t.status]!);
      else if (t.polls > 1 && t.status === 'Processing' && this.mode === 'auto') {
        const prompt = String(t.body.prompt);
        if (prompt.includes('unsafe')) await this.setStatus(t.id, 'Fail', { status_code: 1027, status_msg: 'output video sensitive' });
        else if (prompt.includes('fail')) await this.setStatus(t.id, 'Fail', { status_code: 1000, status_msg: 'unknown error' });
        else await this.setStatus(t.id, 'Success');
      }
      return sendJson(res, 200, this.query(t.id));
    }
    if (req.method === 'GET' && req.path === '/v1/files/retrieve') {
      const t = [...this.tasks.values()].find((x) => x.fileId && x.fileId === req.query.get('file_id'));
      if (!t) return this.fail(res, 2013, 'invalid params, file_id not found');
      return this.ok(res, {
        file: {
          file_id: Number(t.fileId),
          bytes: this.opts.video.length,
          created_at: Math.floor(Date.now() / 1000),
          filename: 'output.mp4',
          purpose: 'video_generation',
          download_url: `${this.url}${this.files.add(t.id, this.opts.video)}?Expires=9h`,
        },
      });
    }
    sendJson(res, 404, { base_resp: { status_code: 404, status_msg: 'not found' } });
  }

  private async create(req: LoggedRequest, res: ServerResponse): Promise<void> {
    const b = (req.json ?? {}) as Record<string, unknown>;
    if (typeof b.model !== 'string' || !b.model) return this.fail(res, 2013, 'invalid params, model is required');
    if (typeof b.prompt !== 'string' || (!b.prompt && !b.first_frame_image)) return this.fail(res, 2013, 'invalid params, prompt is required');
    if (b.duration !== undefined && ![6, 10].includes(b.duration as number))
      return this.fail(res, 2013, `invalid params, duration ${String(b.duration)} is not supported`);
    if (b.resolution !== undefined && !RESOLUTIONS.includes(String(b.resolution)))
      return this.fail(res, 2013, `invalid params, resolution ${String(b.resolution)} is not supported`);
    if (String(b.prompt).includes('sensitive')) return this.fail(res, 1026, 'input new_sensitive');
    if (typeof b.callback_url === 'string') {
      // The callback URL is checked before it is used: the receiver must echo the challenge.
      const challenge = randomUUID();
      const status = await this.deliver(b.callback_url, JSON.stringify({ challenge }), { 'content-type': 'application/json' }).catch(() => 0);
      const answer = this.deliveries.at(-1)?.body ?? '';
      let echoed: boolean;
      try {
        echoed = status === 200 && (JSON.parse(answer) as { challenge?: unknown }).challenge === challenge;
      } catch {
        echoed = false;
      }
      this.challenges.push({ url: b.callback_url, echoed });
      if (!echoed) return this.fail(res, 2013, 'invalid params, callback_url verification failed');
    }
    const id = String(106_000_000_000_000 + this.tasks.size);
    this.tasks.set(id, { id, body: b, status: 'Preparing', polls: 0 });
    this.ok(res, { task_id: id });
  }
}

/**
 * A loopback emulator of Luma's Dream Machine API, following its public docs:
 *   https://docs.lumalabs.ai/docs/api  (POST /dream-machine/v1/generations, GET /dream-machine/v1/generations/{id};
 *     Authorization: Bearer; states queued, dreaming, completed, failed with failure_reason; assets.video / assets.image)
 *   https://docs.lumalabs.ai/docs/video-generation  (model ray-2 / ray-flash-2, aspect_ratio, resolution 540p..4k,
 *     duration "5s" / "9s", loop, keyframes frame0/frame1 as {type: "image", url})
 *   https://docs.lumalabs.ai/changelog/callbacks-and-credits-balance  (callback_url: the Generation object POSTed on
 *     every update; retried 3 times 100 ms apart when the answer is not 200, 5 s timeout; no signature documented)
 * Errors are `{detail}`; the exact wording of Luma's moderation refusals was not found, so the
 * emulator uses a failure_reason that names moderation.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendJson, ServedFiles, type LoggedRequest } from './kit';

type LumaState = 'queued' | 'dreaming' | 'completed' | 'failed';

export interface EmulatedGeneration {
  id: string;
  body: Record<string, unknown>;
  state: LumaState;
  failureReason: string | null;
  callbackUrl?: string;
  polls: number;
}

export interface LumaEmulatorOptions {
  apiKey: string;
  video: Buffer;
  poster?: Buffer;
  /** 'auto': each GET moves a generation one step (queued → dreaming → completed); 'manual': it stays dreaming. */
  mode?: 'auto' | 'manual';
}

const MODELS = ['ray-2', 'ray-flash-2', 'ray-1-6'];
const RATIOS = ['1:1', '16:9', '9:16', '4:3', '3:4', '21:9', '9:21'];
const RESOLUTIONS = ['540p', '720p', '1080p', '4k'];
const DURATIONS = ['5s', '9s'];

export class LumaEmulator extends Emulator {
  readonly generations = new Map<string, EmulatedGeneration>();
  readonly files = new ServedFiles();
  mode: 'auto' | 'manual';

  constructor(private readonly opts: LumaEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
  }

  /** The Generation object, as GET answers it and as callbacks carry it. */
  generation(id: string): Record<string, unknown> {
    const g = this.generations.get(id)!;
    const done = g.state === 'completed';
    return {
      id: g.id,
      generation_type: 'video',
      state: g.state,
      failure_reason: g.failureReason,
      created_at: new Date().toISOString(),
      assets: done
        ? {
            video: `${this.url}${this.files.add(`${g.id}.mp4`, this.opts.video)}`,
            ...(this.opts.poster ? { image: `${this.url}${this.files.add(`${g.id}.jpg`, this.opts.poster, 'image/jpeg')}` } : {}),
          }
        : null,
      model: g.body.model,
      request: g.body,
    };
  }

  /** Moves a generation to a state and POSTs it to its callback_url as Luma does. */
  async setState(id: string, state: LumaState, failureReason: string | null = null): Promise<void> {
    const g = this.generations.get(id)!;
    g.state = state;
    g.failureReason = failureReason;
    if (!g.callbackUrl) return;
    const body = JSON.stringify(this.generation(id));
    for (let attempt = 0; attempt < 4; attempt++) {
      const status = await this.deliver(g.callbackUrl, body, { 'content-type': 'application/json' }).catch(() => 0);
      if (status === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  protected async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    if (this.files.serve(req, res)) return;
    if (req.headers.authorization !== `Bearer ${this.opts.apiKey}`) return sendJson(res, 401, { detail: 'Invalid API key' });
    if (req.method === 'POST' && req.path === '/dream-machine/v1/generations') return this.create(req, res);
    const m = /^\/dream-machine\/v1\/generations\/([^/]+)$/.exec(req.path);
    const g = m ? this.generations.get(m[1]!) : undefined;
    if (!g) return sendJson(res, 404, { detail: 'Generation not found' });
    if (req.method !== 'GET') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    g.polls++;
    if (g.polls > 1 && g.state === 'queued') await this.setState(g.id, 'dreaming');
    else if (g.polls > 1 && g.state === 'dreaming' && this.mode === 'auto') {
      const prompt = String(g.body.prompt);
      if (prompt.includes('unsafe')) await this.setState(g.id, 'failed', '400: prompt not allowed because advanced moderation failed');
      else if (prompt.includes('fail')) await this.setState(g.id, 'failed', 'Job failed');
      else await this.setState(g.id, 'completed');
    }
    sendJson(res, 200, this.generation(g.id));
  }

  private create(req: LoggedRequest, res: ServerResponse): void {
    const b = (req.json ?? {}) as Record<string, unknown>;
    const bad = (loc: string, msg: string): void => sendJson(res, 400, { detail: [{ loc: ['body', loc], msg, type: 'value_error' }] });
    if (typeof b.prompt !== 'string' || !b.prompt) return bad('prompt', 'field required');
    if (!MODELS.includes(String(b.model))) return bad('model', `Input should be ${MODELS.map((x) => `'${x}'`).join(', ')}`);
    if (b.aspect_ratio !== undefined && !RATIOS.includes(String(b.aspect_ratio)))
      return bad('aspect_ratio', `Input should be ${RATIOS.map((x) => `'${x}'`).join(', ')}`);
    if (b.resolution !== undefined && !RESOLUTIONS.includes(String(b.resolution)))
      return bad('resolution', `Input should be ${RESOLUTIONS.map((x) => `'${x}'`).join(', ')}`);
    if (b.duration !== undefined && !DURATIONS.includes(String(b.duration)))
      return bad('duration', `Input should be ${DURATIONS.map((x) => `'${x}'`).join(', ')}`);
    const id = randomUUID();
    this.generations.set(id, {
      id,
      body: b,
      state: 'queued',
      failureReason: null,
      callbackUrl: typeof b.callback_url === 'string' ? b.callback_url : undefined,
      polls: 0,
    });
    sendJson(res, 201, this.generation(id));
  }
}

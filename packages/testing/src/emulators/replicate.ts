/**
 * A loopback emulator of Replicate's predictions API, following its public docs:
 *   https://replicate.com/docs/reference/http#predictions.create
 *   https://replicate.com/docs/reference/http#models.predictions.create
 *   https://replicate.com/docs/reference/http#predictions.get
 *   https://replicate.com/docs/reference/http#predictions.cancel
 *   https://replicate.com/docs/topics/predictions/lifecycle  (starting → processing → succeeded | failed | canceled)
 *   https://replicate.com/docs/topics/webhooks  (webhook, webhook_events_filter)
 *   https://replicate.com/docs/topics/webhooks/verify-webhook  (Standard Webhooks signature, whsec_ secret)
 *   https://replicate.com/docs/reference/http#webhooks.default.secret.get
 *   https://replicate.com/docs/reference/http#files.create  (multipart `content` → {id, urls: {get}})
 *   https://replicate.com/docs/topics/predictions/input-files  (data URLs for files under 1 MB)
 * Errors are problem-details JSON ({title, detail, status}); throttling answers 429 with Retry-After.
 * Output files are served from this server and, like Replicate's, can be expired (404).
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { Emulator, sendBytes, sendJson, type LoggedRequest } from './kit';

type ReplicateStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';

export interface EmulatedPrediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  status: ReplicateStatus;
  logs: string;
  error: string | null;
  output: string[] | null;
  webhook?: string;
  webhookEvents: string[];
  createdAt: string;
  completedAt?: string;
  polls: number;
  expired: boolean;
}

export interface ReplicateEmulatorOptions {
  token: string;
  /** The bytes served as every prediction's output video. */
  video: Buffer;
  /**
   * 'auto': every GET moves a prediction one step (starting → processing 50% → succeeded);
   * 'manual': it stays processing until complete()/fail() is called.
   */
  mode?: 'auto' | 'manual';
  /** When set, every output also lists this image (a poster frame), as some models do. */
  thumbnail?: Buffer;
  /** Failure message for auto-mode predictions whose prompt contains "fail". */
  failMessage?: string;
}

export class ReplicateEmulator extends Emulator {
  readonly predictions = new Map<string, EmulatedPrediction>();
  /** Uploaded files by id: their raw multipart bodies. */
  readonly files = new Map<string, Buffer>();
  readonly webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  mode: 'auto' | 'manual';

  constructor(private readonly opts: ReplicateEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
  }

  private view(p: EmulatedPrediction): Record<string, unknown> {
    return {
      id: p.id,
      model: p.model,
      version: p.version,
      input: p.input,
      logs: p.logs,
      output: p.status === 'succeeded' ? (p.output && p.output.length === 1 ? p.output[0] : p.output) : null,
      data_removed: p.expired,
      error: p.error,
      status: p.status,
      created_at: p.createdAt,
      started_at: p.status === 'starting' ? null : p.createdAt,
      completed_at: p.completedAt ?? null,
      urls: {
        get: `${this.url}/v1/predictions/${p.id}`,
        cancel: `${this.url}/v1/predictions/${p.id}/cancel`,
        web: `https://replicate.com/p/${p.id}`,
      },
      metrics: p.status === 'succeeded' ? { predict_time: 1.5 } : {},
    };
  }

  /** Ends a prediction successfully and sends its `completed` webhook (if it asked for one). */
  async complete(id: string): Promise<void> {
    const p = this.predictions.get(id)!;
    p.status = 'succeeded';
    p.logs += '100%|##########| 10/10\n';
    p.output = [`${this.url}/files/${p.id}/output.mp4`, ...(this.opts.thumbnail ? [`${this.url}/files/${p.id}/poster.jpg`] : [])];
    p.completedAt = new Date().toISOString();
    await this.sendWebhook(p, 'completed');
  }

  async fail(id: string, message: string): Promise<void> {
    const p = this.predictions.get(id)!;
    p.status = 'failed';
    p.error = message;
    p.completedAt = new Date().toISOString();
    await this.sendWebhook(p, 'completed');
  }

  /** Replicate removes output files an hour after the prediction ends. */
  expire(id: string): void {
    this.predictions.get(id)!.expired = true;
  }

  /** Signs a delivery with this emulator's secret, or with `forgeWith` to imitate an attacker. */
  signedDelivery(body: string, forgeWith?: string, now = new Date()): Record<string, string> {
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const signature = new Webhook(forgeWith ?? this.webhookSecret).sign(id, now, body);
    return {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    };
  }

  private async sendWebhook(p: EmulatedPrediction, event: string): Promise<void> {
    if (!p.webhook || !p.webhookEvents.includes(event)) return;
    const body = JSON.stringify(this.view(p));
    await this.deliver(p.webhook, body, this.signedDelivery(body));
  }

  private problem(res: ServerResponse, status: number, title: string, detail: string): void {
    sendJson(res, status, { title, detail, status });
  }

  protected async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    const file = /^\/files\/([^/]+)\/(output\.mp4|poster\.jpg)$/.exec(req.path);
    if (file && req.method === 'GET') {
      const p = this.predictions.get(file[1]!);
      const bytes = file[2] === 'output.mp4' ? this.opts.video : this.opts.thumbnail;
      if (!p || p.expired || p.status !== 'succeeded' || !bytes) return this.problem(res, 404, 'Not found', 'The file was not found');
      return sendBytes(res, bytes, file[2] === 'output.mp4' ? 'video/mp4' : 'image/jpeg');
    }
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return this.problem(res, 401, 'Unauthenticated', 'You did not pass a valid authentication token');
    }
    if (req.method === 'GET' && req.path === '/v1/webhooks/default/secret') return sendJson(res, 200, { key: this.webhookSecret });
    if (req.method === 'POST' && req.path === '/v1/files') {
      const type = String(req.headers['content-type'] ?? '');
      if (!type.startsWith('multipart/form-data') || !req.body.includes('name="content"')) {
        return this.problem(res, 400, 'Invalid file', 'Send the file as multipart/form-data in the `content` field');
      }
      const id = randomBytes(12).toString('hex');
      this.files.set(id, req.body);
      return sendJson(res, 201, { id, size: req.body.length, urls: { get: `${this.url}/v1/files/${id}` } });
    }

    const modelCreate = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(req.path);
    if (req.method === 'POST' && (modelCreate || req.path === '/v1/predictions')) return this.create(req, res, modelCreate);

    const one = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(req.path);
    const p = one ? this.predictions.get(one[1]!) : undefined;
    if (one && !p) return this.problem(res, 404, 'Not found', 'The requested resource could not be found.');
    if (p && req.method === 'GET' && !one![2]) {
      p.polls++;
      await this.step(p);
      return sendJson(res, 200, this.view(p));
    }
    if (p && req.method === 'POST' && one![2]) {
      if (p.status === 'starting' || p.status === 'processing') {
        p.status = 'canceled';
        p.completedAt = new Date().toISOString();
        await this.sendWebhook(p, 'completed');
      }
      return sendJson(res, 200, this.view(p));
    }
    return this.problem(res, 404, 'Not found', `No route for ${req.method} ${req.path}`);
  }

  private async step(p: EmulatedPrediction): Promise<void> {
    if (p.status === 'starting') {
      p.status = 'processing';
      p.logs = 'Loading weights\n 50%|#####     | 5/10\n';
    } else if (p.status === 'processing' && this.mode === 'auto') {
      const prompt = String(p.input.prompt ?? '');
      if (prompt.includes('fail')) await this.fail(p.id, this.opts.failMessage ?? 'CUDA out of memory');
      else await this.complete(p.id);
    }
  }

  private create(req: LoggedRequest, res: ServerResponse, modelCreate: RegExpExecArray | null): void {
    if (req.headers.prefer) return this.problem(res, 400, 'Unexpected Prefer', 'this emulator refuses blocking (Prefer: wait) calls');
    const body = (req.json ?? {}) as { version?: string; input?: Record<string, unknown>; webhook?: string; webhook_events_filter?: string[] };
    if (!body.input || typeof body.input !== 'object') return this.problem(res, 422, 'Invalid input', '- input: input is required');
    if (!modelCreate && !body.version) return this.problem(res, 422, 'Invalid version', '- version: version is required');
    if (typeof body.input.prompt !== 'string' || !body.input.prompt) {
      return sendJson(res, 422, {
        title: 'Input validation failed',
        detail: '- input.prompt: prompt is required',
        status: 422,
        invalid_fields: [{ type: 'required', field: 'input.prompt', description: 'prompt is required' }],
      });
    }
    const id = randomBytes(13)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')
      .slice(0, 26);
    const model = modelCreate ? `${modelCreate[1]}/${modelCreate[2]}` : String(body.version).split(':')[0]!;
    const p: EmulatedPrediction = {
      id,
      model,
      version: modelCreate ? 'official' : String(body.version),
      input: body.input,
      status: 'starting',
      logs: '',
      error: null,
      output: null,
      webhook: body.webhook,
      webhookEvents: body.webhook_events_filter ?? ['start', 'output', 'logs', 'completed'],
      createdAt: new Date().toISOString(),
      polls: 0,
      expired: false,
    };
    this.predictions.set(id, p);
    sendJson(res, 201, this.view(p));
  }
}

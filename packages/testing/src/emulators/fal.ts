/**
 * A loopback emulator of fal.ai's queue API, following its public docs:
 *   https://docs.fal.ai/model-endpoints/queue  (submit, status, result, cancel; model subpaths dropped for status/result)
 *   https://docs.fal.ai/documentation/model-apis/inference/queue  (IN_QUEUE with queue_position, IN_PROGRESS with logs, COMPLETED)
 *   https://docs.fal.ai/model-endpoints/webhooks  (fal_webhook query parameter; payload {request_id, gateway_request_id, status OK|ERROR, payload, error})
 *   https://docs.fal.ai/model-apis/model-endpoints/webhooks#verifying-your-webhook
 *     (ED25519 signature, hex, over "request_id\nuser_id\ntimestamp\nsha256hex(body)", headers
 *      X-Fal-Webhook-Request-Id/-User-Id/-Timestamp/-Signature, public keys as a JWKS at
 *      https://rest.alpha.fal.ai/.well-known/jwks.json)
 * Auth is `Authorization: Key <key>`. Errors carry `detail` (a string, or FastAPI's list for 422).
 * This emulator's JWKS is served at /.well-known/jwks.json with a key pair made at start.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendBytes, sendJson, type LoggedRequest } from './kit';

type FalStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED';

export interface EmulatedFalRequest {
  id: string;
  appId: string;
  endpoint: string;
  input: Record<string, unknown>;
  status: FalStatus;
  queuePosition: number;
  logs: Array<{ message: string; level: string; source: string; timestamp: string }>;
  /** Set when the model failed: the result endpoint answers this status and detail. */
  failure?: { status: number; detail: unknown };
  cancelled: boolean;
  webhook?: string;
  polls: number;
}

export interface FalEmulatorOptions {
  key: string;
  video: Buffer;
  /** When set, results carry `thumbnail: {url}` as some fal video endpoints do. */
  thumbnail?: Buffer;
  /** 'auto': each status GET moves a request one step (IN_QUEUE pos 1 → IN_PROGRESS 40% → COMPLETED). */
  mode?: 'auto' | 'manual';
  userId?: string;
}

export class FalEmulator extends Emulator {
  readonly requestsById = new Map<string, EmulatedFalRequest>();
  readonly userId: string;
  private readonly keys: { publicKey: KeyObject; privateKey: KeyObject };
  mode: 'auto' | 'manual';

  constructor(private readonly opts: FalEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
    this.userId = opts.userId ?? 'user_emulated';
    this.keys = generateKeyPairSync('ed25519');
  }

  get jwksUrl(): string {
    return `${this.url}/.well-known/jwks.json`;
  }

  /** The JWKS fal publishes: OKP / Ed25519 keys with the raw public key in `x` (base64url). */
  jwks(): { keys: Array<Record<string, string>> } {
    const jwk = this.keys.publicKey.export({ format: 'jwk' }) as Record<string, string>;
    return { keys: [{ kty: 'OKP', crv: 'Ed25519', x: jwk.x!, kid: 'emulator-key-1', alg: 'EdDSA', use: 'sig' }] };
  }

  /** Headers of a delivery signed with this emulator's key, or with another key to imitate a forger. */
  signedDelivery(requestId: string, body: string, opts: { forgeWith?: KeyObject; timestamp?: number } = {}): Record<string, string> {
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const message = [requestId, this.userId, timestamp, createHash('sha256').update(body).digest('hex')].join('\n');
    const signature = sign(null, Buffer.from(message), opts.forgeWith ?? this.keys.privateKey).toString('hex');
    return {
      'content-type': 'application/json',
      'x-fal-webhook-request-id': requestId,
      'x-fal-webhook-user-id': this.userId,
      'x-fal-webhook-timestamp': timestamp,
      'x-fal-webhook-signature': signature,
    };
  }

  private resultBody(r: EmulatedFalRequest): Record<string, unknown> {
    return {
      video: { url: `${this.url}/files/${r.id}/output.mp4`, content_type: 'video/mp4', file_name: 'output.mp4', file_size: this.opts.video.length },
      seed: r.input.seed ?? 1,
      ...(this.opts.thumbnail ? { thumbnail: { url: `${this.url}/files/${r.id}/thumbnail.jpg`, content_type: 'image/jpeg' } } : {}),
    };
  }

  async complete(id: string): Promise<void> {
    const r = this.requestsById.get(id)!;
    r.status = 'COMPLETED';
    r.logs.push(this.log('100% done'));
    if (r.webhook) {
      const body = JSON.stringify({ request_id: r.id, gateway_request_id: r.id, status: 'OK', payload: this.resultBody(r) });
      await this.deliver(r.webhook, body, this.signedDelivery(r.id, body));
    }
  }

  async fail(id: string, status: number, detail: unknown): Promise<void> {
    const r = this.requestsById.get(id)!;
    r.status = 'COMPLETED';
    r.failure = { status, detail };
    if (r.webhook) {
      const body = JSON.stringify({
        request_id: r.id,
        gateway_request_id: r.id,
        status: 'ERROR',
        error: `Invalid status code: ${status}`,
        payload: { detail },
      });
      await this.deliver(r.webhook, body, this.signedDelivery(r.id, body));
    }
  }

  private log(message: string): EmulatedFalRequest['logs'][number] {
    return { message, level: 'INFO', source: 'user', timestamp: new Date().toISOString() };
  }

  protected async handle(req: LoggedRequest, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.path === '/.well-known/jwks.json') return sendJson(res, 200, this.jwks());
    const file = /^\/files\/([^/]+)\/(output\.mp4|thumbnail\.jpg)$/.exec(req.path);
    if (file && req.method === 'GET') {
      const r = this.requestsById.get(file[1]!);
      const bytes = file[2] === 'output.mp4' ? this.opts.video : this.opts.thumbnail;
      if (!r || r.status !== 'COMPLETED' || r.failure || !bytes) return sendJson(res, 404, { detail: 'File not found' });
      return sendBytes(res, bytes, file[2] === 'output.mp4' ? 'video/mp4' : 'image/jpeg');
    }
    if (req.headers.authorization !== `Key ${this.opts.key}`) return sendJson(res, 401, { detail: 'Invalid authentication credentials' });

    const m = /^\/(.+?)\/requests\/([^/]+)(\/status|\/cancel)?$/.exec(req.path);
    if (m) {
      const r = this.requestsById.get(m[2]!);
      // Status and result are addressed without the model's subpath: only the app id.
      if (!r || r.appId !== m[1]) return sendJson(res, 404, { detail: 'Request not found' });
      if (m[3] === '/status' && req.method === 'GET') return this.status(r, req, res);
      if (m[3] === '/cancel' && req.method === 'PUT') {
        if (r.status === 'COMPLETED') return sendJson(res, 400, { status: 'ALREADY_COMPLETED' });
        r.cancelled = true;
        r.status = 'COMPLETED';
        r.failure = { status: 499, detail: 'Request was cancelled' };
        return sendJson(res, 202, { status: 'CANCELLATION_REQUESTED' });
      }
      if (!m[3] && req.method === 'GET') {
        if (r.status !== 'COMPLETED') return sendJson(res, 400, { detail: 'Request is still in progress' });
        if (r.failure) return sendJson(res, r.failure.status, { detail: r.failure.detail });
        return sendJson(res, 200, this.resultBody(r));
      }
      return sendJson(res, 405, { detail: 'Method Not Allowed' });
    }
    if (req.method === 'POST') return this.submit(req, res);
    return sendJson(res, 404, { detail: 'Not Found' });
  }

  private status(r: EmulatedFalRequest, req: LoggedRequest, res: ServerResponse): void {
    r.polls++;
    if (this.mode === 'auto' && r.polls > 1) {
      if (r.status === 'IN_QUEUE') {
        r.status = 'IN_PROGRESS';
        r.logs.push(this.log('Generating video: 40%'));
      } else if (r.status === 'IN_PROGRESS') {
        if (String(r.input.prompt).includes('fail')) {
          r.status = 'COMPLETED';
          r.failure = {
            status: 422,
            detail: [{ loc: ['body', 'prompt'], msg: 'The prompt was flagged by the content checker', type: 'content_policy_violation' }],
          };
        } else {
          r.status = 'COMPLETED';
          r.logs.push(this.log('100% done'));
        }
      }
    } else if (this.mode === 'manual' && r.status === 'IN_QUEUE' && r.polls > 1) {
      r.status = 'IN_PROGRESS';
    }
    const base = `${this.url}/${r.appId}/requests/${r.id}`;
    const withLogs = req.query.get('logs') === '1';
    const body: Record<string, unknown> = {
      status: r.status,
      request_id: r.id,
      response_url: base,
      status_url: `${base}/status`,
      cancel_url: `${base}/cancel`,
    };
    if (r.status === 'IN_QUEUE') body.queue_position = r.queuePosition;
    if (withLogs && r.status !== 'IN_QUEUE') body.logs = r.logs;
    sendJson(res, r.status === 'COMPLETED' ? 200 : 202, body);
  }

  private submit(req: LoggedRequest, res: ServerResponse): void {
    const endpoint = req.path.slice(1);
    const parts = endpoint.split('/');
    if (parts.length < 2) return sendJson(res, 404, { detail: 'Application not found' });
    const input = (req.json ?? {}) as Record<string, unknown>;
    if (typeof input.prompt !== 'string' || !input.prompt) {
      return sendJson(res, 422, { detail: [{ loc: ['body', 'prompt'], msg: 'field required', type: 'value_error.missing' }] });
    }
    const id = randomUUID();
    const appId = parts.slice(0, 2).join('/');
    this.requestsById.set(id, {
      id,
      appId,
      endpoint,
      input,
      status: 'IN_QUEUE',
      queuePosition: 1,
      logs: [],
      cancelled: false,
      webhook: req.query.get('fal_webhook') ?? undefined,
      polls: 0,
    });
    const base = `${this.url}/${appId}/requests/${id}`;
    sendJson(res, 200, {
      request_id: id,
      gateway_request_id: id,
      response_url: base,
      status_url: `${base}/status`,
      cancel_url: `${base}/cancel`,
      queue_position: 1,
    });
  }
}

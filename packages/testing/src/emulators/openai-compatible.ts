/**
 * Emulator of OpenAI's Videos API, following https://platform.openai.com/docs/api-reference/videos
 * (create: POST /v1/videos, JSON or multipart with `input_reference`; retrieve: GET /v1/videos/{id};
 * download: GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet; delete: DELETE
 * /v1/videos/{id}; errors as {"error": {"message", "type", "param", "code"}}; 429 with Retry-After).
 * A real HTTP server on loopback. Each test steers it: task duration, failures, content policy,
 * 429 bursts, 5xx bursts, hanging requests; every request can be read back as a call (never
 * with the key itself).
 * `Idempotency-Key` is honoured: a create repeated with the same key returns the same task.
 * Edits and extensions follow https://platform.openai.com/docs/api-reference/videos/edit and
 * https://platform.openai.com/docs/api-reference/videos/extend: POST /v1/videos/edits
 * `{prompt, video}` and POST /v1/videos/extensions `{prompt, seconds, video}`, where `video` is an
 * uploaded file or `{"id"}` of a completed video; each answers a new video object.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendBytes, sendJson, type LoggedRequest } from './kit';

export type EmulatorRoute = 'create' | 'edit' | 'extend' | 'retrieve' | 'content' | 'delete';

/** One request as the Videos API saw it. */
export interface VideosCall {
  at: number;
  method: string;
  /** Path and query string. */
  path: string;
  route: EmulatorRoute | 'other';
  status: number;
  idempotencyKey: string | null;
  /** Whether a valid bearer key came with it (the key itself is never shown). */
  authorized: boolean;
  contentType: string | null;
  /** Create only: the parsed fields (multipart file parts appear as `<file N bytes>`). */
  fields?: Record<string, string>;
}

export interface EmulatorBehaviour {
  /** How long a task runs (ms), or a [min, max] range picked per task. */
  taskMs: number | [number, number];
  /** How long a task stays `queued` before `in_progress`. */
  queuedMs: number;
  /** Tasks end `failed` with this OpenAI-style error instead of completing. */
  taskFailure: { code: string; message: string } | null;
  /** Creates are refused with 400 `moderation_blocked`. */
  contentPolicyOnCreate: boolean;
  /** Answer with seed-dialect words (`pending`/`processing`) and fields (`duration`, `width`, `height`). */
  seedDialect: boolean;
  /** Report `eta_seconds` on running tasks (a gateway extension; OpenAI does not). */
  reportEta: boolean;
}

interface EmulatedTask {
  id: string;
  model: string;
  seconds: string;
  size: string;
  createdAt: number;
  queuedMs: number;
  runMs: number;
  failure: { code: string; message: string } | null;
}

const defaults: EmulatorBehaviour = {
  taskMs: 1500,
  queuedMs: 200,
  taskFailure: null,
  contentPolicyOnCreate: false,
  seedDialect: false,
  reportEta: false,
};

const VIDEOS_PATH = /^\/v1\/videos(?:\/([^/]+))?(\/content)?$/;

function routeOf(req: { method: string; path: string }): EmulatorRoute | 'other' {
  const m = VIDEOS_PATH.exec(req.path);
  if (!m) return 'other';
  if (req.method === 'POST' && !m[1]) return 'create';
  if (req.method === 'POST' && m[1] === 'edits' && !m[2]) return 'edit';
  if (req.method === 'POST' && m[1] === 'extensions' && !m[2]) return 'extend';
  if (req.method === 'GET' && m[1] && m[2]) return 'content';
  if (req.method === 'GET' && m[1]) return 'retrieve';
  if (req.method === 'DELETE' && m[1] && !m[2]) return 'delete';
  return 'other';
}

const errorType = (status: number): string => (status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error');

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { message, type: errorType(status), param: null, code } }, headers);
}

/** Bytes served as each variant's content: fixed per task id so downloads can be compared. */
export const emulatedContent = (taskId: string, variant: string): Buffer =>
  Buffer.from(`emulated ${variant} of ${taskId}\n`.repeat(variant === 'video' ? 64 : 4));

export class OpenAIVideosEmulator extends Emulator {
  behaviour: EmulatorBehaviour;
  readonly apiKey: string | null;
  private readonly tasks = new Map<string, EmulatedTask>();
  private readonly byIdempotencyKey = new Map<string, string>();
  private tally = { creates: 0, retrieves: 0, accepted: 0 };

  /** `keepLog: false` keeps only `counts` (a bench with 10,000 tasks). */
  constructor(opts: { apiKey?: string | null; behaviour?: Partial<EmulatorBehaviour>; keepLog?: boolean } = {}) {
    super({ keepLog: opts.keepLog });
    this.apiKey = opts.apiKey ?? null;
    this.behaviour = { ...defaults, ...opts.behaviour };
  }

  /** Requests received, creates and retrieves answered, upstream tasks made. */
  get counts(): { requests: number; creates: number; retrieves: number; accepted: number } {
    return { requests: this.server.received, ...this.tally };
  }

  /** Upstream tasks created (a create repeated with the same Idempotency-Key counts once). */
  get acceptedTasks(): number {
    return this.tally.accepted;
  }

  /** The next `count` requests to `on` answer `status` (e.g. a burst of 500s). */
  failNext(count: number, status = 500, on: EmulatorRoute | 'any' = 'any', message?: string): this {
    const code = status >= 500 ? 'server_error' : 'invalid_request';
    const text = message ?? `The server had an error while processing your request (${status})`;
    this.server.interrupt({ match: this.on(on), times: count, status, body: { error: { message: text, type: errorType(status), param: null, code } } });
    return this;
  }

  /** The next `count` requests to `on` answer 429 with `Retry-After: <seconds>`. */
  rateLimitNext(count: number, retryAfterSeconds: number, on: EmulatorRoute | 'any' = 'any'): this {
    const body = { error: { message: 'Rate limit reached for requests', type: errorType(429), param: null, code: 'rate_limit_exceeded' } };
    this.server.interrupt({ match: this.on(on), times: count, status: 429, headers: { 'retry-after': String(retryAfterSeconds) }, body });
    return this;
  }

  /** The next `count` requests to `on` are read and never answered (until close). */
  hangNext(count: number, on: EmulatorRoute | 'any' = 'any'): this {
    this.server.interrupt({ match: this.on(on), times: count, hang: true });
    return this;
  }

  /** Drops failures, 429s and hangs still waiting to be served. */
  clearInjections(): this {
    this.server.clearInterruptions();
    return this;
  }

  /** Forgets the requests seen and the tasks accepted so far (between tests sharing one emulator). */
  clearLog(): this {
    this.server.log.length = 0;
    this.tally.accepted = 0;
    return this;
  }

  /** The requests seen, as calls of the Videos API; only those to `route` when given. */
  calls(route?: EmulatorRoute): VideosCall[] {
    const all = this.server.log.map((r) => this.callOf(r));
    return route ? all.filter((c) => c.route === route) : all;
  }

  private on(route: EmulatorRoute | 'any'): ((req: LoggedRequest) => boolean) | undefined {
    return route === 'any' ? undefined : (req) => routeOf(req) === route;
  }

  private authorized(req: LoggedRequest): boolean {
    return this.apiKey === null || req.headers.authorization === `Bearer ${this.apiKey}`;
  }

  private callOf(r: LoggedRequest): VideosCall {
    const route = routeOf(r);
    const contentType = (r.headers['content-type'] as string | undefined) ?? null;
    const search = r.query.toString();
    return {
      at: r.at,
      method: r.method,
      path: search ? `${r.path}?${search}` : r.path,
      route,
      status: r.status,
      idempotencyKey: (r.headers['idempotency-key'] as string | undefined) ?? null,
      authorized: this.authorized(r),
      contentType,
      ...(route === 'create' || route === 'edit' || route === 'extend' ? { fields: parseFields(contentType ?? '', r.body) ?? undefined } : {}),
    };
  }

  protected handle(req: LoggedRequest, res: ServerResponse): void {
    if (!this.authorized(req)) return sendError(res, 401, 'invalid_api_key', 'Incorrect API key provided.');
    const m = VIDEOS_PATH.exec(req.path);
    const id = m?.[1] ? decodeURIComponent(m[1]) : '';
    switch (routeOf(req)) {
      case 'create':
        return this.create(req, res);
      case 'edit':
      case 'extend':
        return this.fromSource(req, res, routeOf(req) as 'edit' | 'extend');
      case 'retrieve': {
        this.tally.retrieves++;
        const task = this.tasks.get(id);
        return task ? sendJson(res, 200, this.present(task)) : sendError(res, 404, 'not_found', 'Video not found');
      }
      case 'content': {
        const task = this.tasks.get(id);
        if (!task) return sendError(res, 404, 'not_found', 'Video not found');
        if (this.stateOf(task).status !== 'completed') return sendError(res, 409, 'video_not_ready', 'Video is not ready');
        const variant = req.query.get('variant') ?? 'video';
        return sendBytes(res, emulatedContent(task.id, variant), variant === 'video' ? 'video/mp4' : 'image/jpeg');
      }
      case 'delete': {
        if (!this.tasks.delete(id)) return sendError(res, 404, 'not_found', 'Video not found');
        return sendJson(res, 200, { id, object: 'video.deleted', deleted: true });
      }
      default:
        return sendError(res, 404, 'not_found', `No route ${req.method} ${req.path}`);
    }
  }

  /**
   * What every create route does first: count it, parse the body, answer a replayed
   * Idempotency-Key with its task and a missing prompt with 400. Null once it has answered.
   */
  private createFields(req: LoggedRequest, res: ServerResponse): Record<string, string> | null {
    this.tally.creates++;
    const fields = parseFields(String(req.headers['content-type'] ?? ''), req.body);
    const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
    const existing = idempotencyKey ? this.tasks.get(this.byIdempotencyKey.get(idempotencyKey) ?? '') : undefined;
    if (!fields) sendError(res, 400, 'invalid_json', 'We could not parse the JSON body of your request.');
    else if (existing) sendJson(res, 200, this.present(existing));
    else if (!fields.prompt) sendError(res, 400, 'invalid_value', "Missing required parameter: 'prompt'.");
    else return fields;
    return null;
  }

  private create(req: LoggedRequest, res: ServerResponse): void {
    const fields = this.createFields(req, res);
    if (!fields) return;
    const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
    if (this.behaviour.contentPolicyOnCreate) {
      return sendError(res, 400, 'moderation_blocked', 'Your request was blocked by our moderation system.');
    }
    const b = this.behaviour;
    const runMs = Array.isArray(b.taskMs) ? b.taskMs[0] + Math.random() * (b.taskMs[1] - b.taskMs[0]) : b.taskMs;
    const task: EmulatedTask = {
      id: `video_${randomUUID().replace(/-/g, '')}`,
      model: fields.model ?? 'sora-2',
      seconds: fields.seconds ?? fields.duration ?? '4',
      size: fields.size ?? (fields.width && fields.height ? `${fields.width}x${fields.height}` : '720x1280'),
      createdAt: Date.now(),
      queuedMs: b.queuedMs,
      runMs,
      failure: b.taskFailure,
    };
    this.tasks.set(task.id, task);
    this.tally.accepted++;
    if (idempotencyKey) this.byIdempotencyKey.set(idempotencyKey, task.id);
    sendJson(res, 200, this.present(task));
  }

  /** An edit keeps the source's length; an extension adds `seconds` (an upload counts as 4 s). */
  private fromSource(req: LoggedRequest, res: ServerResponse, route: 'edit' | 'extend'): void {
    const fields = this.createFields(req, res);
    if (!fields) return;
    const idempotencyKey = req.headers['idempotency-key'] as string | undefined;
    const refId = fields['video[id]'] ?? (fields.video?.startsWith('{') ? (JSON.parse(fields.video) as { id?: string }).id : undefined);
    const uploaded = fields.video?.startsWith('<file ') ?? false;
    const source = refId ? this.tasks.get(refId) : undefined;
    if (!uploaded && !source) return sendError(res, 400, 'invalid_value', "Invalid 'video': upload a file or give the id of a completed video.");
    if (route === 'extend' && !/^\d+$/.test(fields.seconds ?? '')) return sendError(res, 400, 'invalid_value', "Missing required parameter: 'seconds'.");
    const base = source ? Number(source.seconds) : 4;
    const b = this.behaviour;
    const task: EmulatedTask = {
      id: `video_${randomUUID().replace(/-/g, '')}`,
      model: source?.model ?? 'sora-2',
      seconds: String(route === 'extend' ? base + Number(fields.seconds) : base),
      size: source?.size ?? '720x1280',
      createdAt: Date.now(),
      queuedMs: b.queuedMs,
      runMs: Array.isArray(b.taskMs) ? b.taskMs[0] : b.taskMs,
      failure: b.taskFailure,
    };
    this.tasks.set(task.id, task);
    this.tally.accepted++;
    if (idempotencyKey) this.byIdempotencyKey.set(idempotencyKey, task.id);
    sendJson(res, 200, this.present(task));
  }

  private stateOf(task: EmulatedTask): { status: 'queued' | 'in_progress' | 'completed' | 'failed'; progress: number; etaMs: number } {
    const elapsed = Date.now() - task.createdAt;
    if (elapsed < task.queuedMs) return { status: 'queued', progress: 0, etaMs: task.queuedMs + task.runMs - elapsed };
    const ran = elapsed - task.queuedMs;
    if (ran < task.runMs) return { status: 'in_progress', progress: Math.floor((ran / task.runMs) * 100), etaMs: task.runMs - ran };
    return task.failure ? { status: 'failed', progress: 0, etaMs: 0 } : { status: 'completed', progress: 100, etaMs: 0 };
  }

  private present(task: EmulatedTask): Record<string, unknown> {
    const s = this.stateOf(task);
    const seed = this.behaviour.seedDialect;
    const status = seed ? (({ queued: 'pending', in_progress: 'processing' } as Record<string, string>)[s.status] ?? s.status) : s.status;
    const [width, height] = task.size.split('x').map(Number);
    return {
      id: task.id,
      object: 'video',
      model: task.model,
      status,
      progress: s.progress,
      created_at: Math.floor(task.createdAt / 1000),
      completed_at: s.status === 'completed' ? Math.floor((task.createdAt + task.queuedMs + task.runMs) / 1000) : null,
      ...(seed ? { duration: Number(task.seconds), width, height, seconds: `${Number(task.seconds).toFixed(1)}` } : { seconds: task.seconds, size: task.size }),
      error: s.status === 'failed' ? task.failure : null,
      ...(this.behaviour.reportEta && s.status !== 'completed' && s.status !== 'failed' ? { eta_seconds: Math.ceil(s.etaMs / 1000) } : {}),
    };
  }
}

/** JSON or multipart/form-data fields as strings; file parts become `<file N bytes>`. */
function parseFields(contentType: string, body: Buffer): Record<string, string> | null {
  if (contentType.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
    if (!boundary) return null;
    const out: Record<string, string> = {};
    const parts = body.toString('latin1').split(`--${boundary[1] ?? boundary[2]}`);
    for (const part of parts) {
      const [head, ...rest] = part.split('\r\n\r\n');
      const name = /name="([^"]+)"/.exec(head ?? '')?.[1];
      if (!name) continue;
      const value = rest.join('\r\n\r\n').replace(/\r\n$/, '');
      out[name] = /filename="/.test(head!) ? `<file ${Buffer.byteLength(value, 'latin1')} bytes>` : Buffer.from(value, 'latin1').toString('utf8');
    }
    return out;
  }
  try {
    const json = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  } catch {
    return null;
  }
}

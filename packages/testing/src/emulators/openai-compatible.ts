/**
 * Emulator of OpenAI's Videos API, following https://platform.openai.com/docs/api-reference/videos
 * (create: POST /v1/videos, JSON or multipart with `input_reference`; retrieve: GET /v1/videos/{id};
 * download: GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet; delete: DELETE
 * /v1/videos/{id}; errors as {"error": {"message", "type", "param", "code"}}; 429 with Retry-After).
 * A real HTTP server on loopback. Each test steers it: task duration, failures, content policy,
 * 429 bursts, 5xx bursts, hanging requests; every request is logged (never the key itself).
 * `Idempotency-Key` is honoured: a create repeated with the same key returns the same task.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type EmulatorRoute = 'create' | 'retrieve' | 'content' | 'delete';

export interface EmulatorRequest {
  at: number;
  method: string;
  path: string;
  route: EmulatorRoute | 'other';
  status: number;
  idempotencyKey: string | null;
  /** Whether a valid bearer key came with it (the key itself is never logged). */
  authorized: boolean;
  contentType: string | null;
  /** Create only: the parsed fields (multipart file parts appear as `<file N bytes>`). */
  fields?: Record<string, string>;
  /** Create only: the upstream task the request was answered with, if any. */
  taskId?: string;
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
  /** Keep every request in `log` (a bench turns this off and reads `counts`). */
  keepLog: boolean;
}

interface Injection {
  on: EmulatorRoute | 'any';
  remaining: number;
  answer: 'status' | 'hang';
  status?: number;
  retryAfterSeconds?: number;
  message?: string;
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
  keepLog: true,
};

/** Bytes served as each variant's content: fixed per task id so downloads can be compared. */
export const emulatedContent = (taskId: string, variant: string): Buffer =>
  Buffer.from(`emulated ${variant} of ${taskId}\n`.repeat(variant === 'video' ? 64 : 4));

export class OpenAIVideosEmulator {
  readonly log: EmulatorRequest[] = [];
  readonly counts = { requests: 0, creates: 0, retrieves: 0, accepted: 0 };
  behaviour: EmulatorBehaviour;
  private readonly tasks = new Map<string, EmulatedTask>();
  private readonly byIdempotencyKey = new Map<string, string>();
  private injections: Injection[] = [];
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly apiKey: string | null,
    behaviour: Partial<EmulatorBehaviour>,
  ) {
    this.behaviour = { ...defaults, ...behaviour };
  }

  static async start(opts: { apiKey?: string | null; port?: number; behaviour?: Partial<EmulatorBehaviour> } = {}): Promise<OpenAIVideosEmulator> {
    let self: OpenAIVideosEmulator | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new OpenAIVideosEmulator(server, `http://127.0.0.1:${port}`, opts.apiKey ?? null, opts.behaviour ?? {});
    return self;
  }

  /** The next `count` requests to `on` answer `status` (e.g. a burst of 500s). */
  failNext(count: number, status = 500, on: EmulatorRoute | 'any' = 'any', message?: string): this {
    this.injections.push({ on, remaining: count, answer: 'status', status, message });
    return this;
  }

  /** The next `count` requests to `on` answer 429 with `Retry-After: <seconds>`. */
  rateLimitNext(count: number, retryAfterSeconds: number, on: EmulatorRoute | 'any' = 'any'): this {
    this.injections.push({ on, remaining: count, answer: 'status', status: 429, retryAfterSeconds });
    return this;
  }

  /** The next `count` requests to `on` are read and never answered (until close). */
  hangNext(count: number, on: EmulatorRoute | 'any' = 'any'): this {
    this.injections.push({ on, remaining: count, answer: 'hang' });
    return this;
  }

  /** Drops failures, 429s and hangs still waiting to be served. */
  clearInjections(): this {
    this.injections = [];
    return this;
  }

  /** Upstream tasks created (a create repeated with the same Idempotency-Key counts once). */
  get acceptedTasks(): number {
    return this.counts.accepted;
  }

  requests(route?: EmulatorRoute): EmulatorRequest[] {
    return route ? this.log.filter((r) => r.route === route) : [...this.log];
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const entry: EmulatorRequest = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      route: 'other',
      status: 0,
      idempotencyKey: (req.headers['idempotency-key'] as string | undefined) ?? null,
      authorized: this.apiKey === null || req.headers.authorization === `Bearer ${this.apiKey}`,
      contentType: req.headers['content-type'] ?? null,
    };
    this.counts.requests++;
    if (this.behaviour.keepLog) this.log.push(entry);
    const body = await readBody(req);
    const m = /^\/v1\/videos(?:\/([^/]+))?(\/content)?$/.exec(url.pathname);
    if (m && req.method === 'POST' && !m[1]) entry.route = 'create';
    else if (m && req.method === 'GET' && m[1] && m[2]) entry.route = 'content';
    else if (m && req.method === 'GET' && m[1]) entry.route = 'retrieve';
    else if (m && req.method === 'DELETE' && m[1] && !m[2]) entry.route = 'delete';

    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      send(status, { error: { message, type: status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code } }, headers);

    const injected = this.takeInjection(entry.route);
    if (injected?.answer === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (injected) {
      const status = injected.status!;
      if (status === 429) {
        return fail(429, 'rate_limit_exceeded', 'Rate limit reached for requests', { 'retry-after': String(injected.retryAfterSeconds ?? 1) });
      }
      return fail(status, status >= 500 ? 'server_error' : 'invalid_request', injected.message ?? `The server had an error while processing your request (${status})`);
    }
    if (!entry.authorized) return fail(401, 'invalid_api_key', 'Incorrect API key provided.');

    switch (entry.route) {
      case 'create':
        return this.create(entry, req, body, send, fail);
      case 'retrieve': {
        this.counts.retrieves++;
        const task = this.tasks.get(decodeURIComponent(m![1]!));
        return task ? send(200, this.present(task)) : fail(404, 'not_found', 'Video not found');
      }
      case 'content': {
        const task = this.tasks.get(decodeURIComponent(m![1]!));
        if (!task) return fail(404, 'not_found', 'Video not found');
        if (this.stateOf(task).status !== 'completed') return fail(409, 'video_not_ready', 'Video is not ready');
        const variant = url.searchParams.get('variant') ?? 'video';
        const bytes = emulatedContent(task.id, variant);
        entry.status = 200;
        res.writeHead(200, { 'content-type': variant === 'video' ? 'video/mp4' : 'image/jpeg', 'content-length': String(bytes.length) });
        res.end(bytes);
        return;
      }
      case 'delete': {
        const id = decodeURIComponent(m![1]!);
        if (!this.tasks.delete(id)) return fail(404, 'not_found', 'Video not found');
        return send(200, { id, object: 'video.deleted', deleted: true });
      }
      default:
        return fail(404, 'not_found', `No route ${req.method} ${url.pathname}`);
    }
  }

  private create(
    entry: EmulatorRequest,
    req: IncomingMessage,
    body: Buffer,
    send: (status: number, payload: unknown) => void,
    fail: (status: number, code: string, message: string) => void,
  ): void {
    this.counts.creates++;
    const fields = parseFields(req.headers['content-type'] ?? '', body);
    if (!fields) return fail(400, 'invalid_json', 'We could not parse the JSON body of your request.');
    if (this.behaviour.keepLog) entry.fields = fields;
    if (entry.idempotencyKey && this.byIdempotencyKey.has(entry.idempotencyKey)) {
      const existing = this.tasks.get(this.byIdempotencyKey.get(entry.idempotencyKey)!);
      if (existing) {
        entry.taskId = existing.id;
        return send(200, this.present(existing));
      }
    }
    if (!fields.prompt) return fail(400, 'invalid_value', "Missing required parameter: 'prompt'.");
    if (this.behaviour.contentPolicyOnCreate) {
      return fail(400, 'moderation_blocked', 'Your request was blocked by our moderation system.');
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
    this.counts.accepted++;
    if (entry.idempotencyKey) this.byIdempotencyKey.set(entry.idempotencyKey, task.id);
    entry.taskId = task.id;
    send(200, this.present(task));
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
    const status = seed ? ({ queued: 'pending', in_progress: 'processing' } as Record<string, string>)[s.status] ?? s.status : s.status;
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

  private takeInjection(route: EmulatorRequest['route']): Injection | undefined {
    const inj = this.injections.find((i) => i.remaining > 0 && (i.on === 'any' || i.on === route));
    if (!inj) return undefined;
    inj.remaining--;
    this.injections = this.injections.filter((i) => i.remaining > 0);
    return inj;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The shared part of the upstream emulators: a real HTTP server on 127.0.0.1 that records every
 * request and can be told to answer the next matching requests differently (an error status,
 * a Retry-After, a delay, a hang), so adapter tests exercise the real wire.
 */
export interface LoggedRequest {
  /** When it arrived (ms since the epoch). */
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: unknown;
  /** The status it was answered with; 0 while unanswered (or hung). */
  status: number;
}

export interface Interruption {
  /** Which requests it applies to; all when absent. */
  match?: (req: LoggedRequest) => boolean;
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Hold the request this long before answering (longer than a client timeout = a hang). */
  delayMs?: number;
  /** Read the request and never answer it (until the emulator closes). */
  hang?: boolean;
  /** How many requests it answers before normal behaviour resumes (default 1). */
  times?: number;
}

export type Handler = (req: LoggedRequest, res: ServerResponse) => void | Promise<void>;

export interface ServerOptions {
  /** Keep every request in `log` (default true; a bench with 10,000 tasks turns it off and reads `received`). */
  keepLog?: boolean;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Serves a file's bytes as an upstream's download endpoint would. */
export function sendBytes(res: ServerResponse, bytes: Buffer, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': bytes.length });
  res.end(bytes);
}

export class EmulatorServer {
  readonly log: LoggedRequest[] = [];
  /** Requests received, logged or not. */
  received = 0;
  url = '';
  private interruptions: Array<Interruption & { left: number }> = [];
  private server: Server | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly keepLog: boolean;
  private upgradeHandler: ((req: IncomingMessage, socket: Socket, head: Buffer) => void) | undefined;

  constructor(
    private readonly handler: Handler,
    opts: ServerOptions = {},
  ) {
    this.keepLog = opts.keepLog ?? true;
  }

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.dispatch(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.upgradeHandler ? this.upgradeHandler(req, socket, head) : socket.destroy(),
    );
    // Clients keep connections open between polls; close them only when the emulator closes.
    server.keepAliveTimeout = 30_000;
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    const server = this.server;
    if (!server) return;
    server.closeAllConnections(); // hung requests included
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Takes HTTP upgrade requests (an emulated websocket endpoint); without one they are refused. */
  onUpgrade(handler: (req: IncomingMessage, socket: Socket, head: Buffer) => void): void {
    this.upgradeHandler = handler;
  }

  /** Answers the next matching request(s) with this instead of the emulated behaviour. */
  interrupt(i: Interruption): void {
    this.interruptions.push({ ...i, left: i.times ?? 1 });
  }

  /** Drops interruptions still waiting to be served. */
  clearInterruptions(): void {
    this.interruptions = [];
  }

  requests(method: string, pathPattern: RegExp): LoggedRequest[] {
    return this.log.filter((r) => r.method === method && pathPattern.test(r.path));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://emulator');
    let json: unknown;
    try {
      json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const logged: LoggedRequest = { at, method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, json, status: 0 };
    this.received++;
    if (this.keepLog) this.log.push(logged);
    res.on('finish', () => (logged.status = res.statusCode));
    const i = this.interruptions.find((x) => x.left > 0 && (!x.match || x.match(logged)));
    try {
      if (i) {
        i.left--;
        if (i.hang) return;
        if (i.delayMs) await this.sleep(i.delayMs);
        if (res.destroyed) return;
        if (i.status !== undefined) return sendJson(res, i.status, i.body ?? {}, i.headers);
      }
      await this.handler(logged, res);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

/**
 * One emulated upstream: its loopback server, plus the webhook deliveries it has sent to Reelay
 * (for the upstreams that call back when a task ends).
 */
export abstract class Emulator {
  readonly server: EmulatorServer;
  /** Every webhook delivery attempted, with Reelay's answer. */
  readonly deliveries: Array<{ url: string; status: number; body: string }> = [];

  constructor(opts: ServerOptions = {}) {
    this.server = new EmulatorServer((req, res) => this.handle(req, res), opts);
  }

  protected abstract handle(req: LoggedRequest, res: ServerResponse): void | Promise<void>;

  get url(): string {
    return this.server.url;
  }

  start(port = 0): Promise<string> {
    return this.server.start(port);
  }

  close(): Promise<void> {
    return this.server.close();
  }

  requests(method: string, pathPattern: RegExp): LoggedRequest[] {
    return this.server.requests(method, pathPattern);
  }

  /** POSTs a webhook to Reelay as the upstream would, and records the answer. */
  async deliver(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const res = await fetch(url, { method: 'POST', headers, body });
    this.deliveries.push({ url, status: res.status, body: await res.text() });
    return res.status;
  }
}

/**
 * Result files an emulator serves at `/files/<name>` (upstreams hand out links like these, which
 * expire): add one, expire it (then 404, or 403 like a lapsed pre-signed URL), serve requests.
 */
export class ServedFiles {
  private readonly files = new Map<string, { bytes: Buffer; type: string; expired: boolean }>();

  constructor(private readonly expiredStatus = 404) {}

  /** Adds a file and returns its path on the emulator. */
  add(name: string, bytes: Buffer, type = 'video/mp4'): string {
    if (!this.files.has(name)) this.files.set(name, { bytes, type, expired: false });
    return `/files/${name}`;
  }

  expire(name: string): void {
    const f = this.files.get(name);
    if (f) f.expired = true;
  }

  /** Answers GET /files/<name>; false when the request is not for a file. */
  serve(req: LoggedRequest, res: ServerResponse): boolean {
    const m = /^\/files\/([^/]+)$/.exec(req.path);
    if (!m || req.method !== 'GET') return false;
    const f = this.files.get(m[1]!);
    if (!f || f.expired) sendJson(res, this.expiredStatus, { error: 'file not found or link expired' });
    else sendBytes(res, f.bytes, f.type);
    return true;
  }
}

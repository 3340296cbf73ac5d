import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * The shared part of the upstream emulators: a real HTTP server on 127.0.0.1 that records every
 * request and can be told to answer the next matching requests differently (an error status,
 * a Retry-After, a hang), so adapter tests exercise the real wire.
 */
export interface LoggedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: unknown;
}

export interface Interruption {
  /** Which requests it applies to; all when absent. */
  match?: (req: LoggedRequest) => boolean;
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Hold the request this long before answering (longer than a client timeout = a hang). */
  delayMs?: number;
  /** How many requests it answers before normal behaviour resumes (default 1). */
  times?: number;
}

export type Handler = (req: LoggedRequest, res: ServerResponse) => void | Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export class EmulatorServer {
  readonly log: LoggedRequest[] = [];
  private readonly interruptions: Array<Interruption & { left: number }> = [];
  private server: Server | undefined;
  private timers = new Set<NodeJS.Timeout>();
  url = '';

  constructor(private readonly handler: Handler) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.dispatch(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** Answers the next matching request(s) with this instead of the emulated behaviour. */
  interrupt(i: Interruption): void {
    this.interruptions.push({ ...i, left: i.times ?? 1 });
  }

  requests(method: string, pathPattern: RegExp): LoggedRequest[] {
    return this.log.filter((r) => r.method === method && pathPattern.test(r.path));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
    const logged: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, json };
    this.log.push(logged);
    const i = this.interruptions.find((x) => x.left > 0 && (!x.match || x.match(logged)));
    try {
      if (i) {
        i.left--;
        if (i.delayMs) await new Promise<void>((r) => { const t = setTimeout(() => { this.timers.delete(t); r(); }, i.delayMs); this.timers.add(t); });
        if (res.destroyed) return;
        if (i.status !== undefined) return sendJson(res, i.status, i.body ?? {}, i.headers);
      }
      await this.handler(logged, res);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
    }
  }
}

/** Reads a whole stream (an adapter's fetchOutput) into memory, for comparing with what an emulator served. */
export async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The error a promise rejects with; fails the test if it resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

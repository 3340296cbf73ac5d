import { connect } from 'node:net';

/** One request exactly as it goes on the wire: any bytes in the path, header names and values. */
export interface RawRequest {
  method: string;
  /** Request target, sent as is (already percent-encoded, or deliberately not). */
  path: string;
  headers: [string, string][];
  body: Buffer | null;
}

export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  ms: number;
}

export type SendResult = { kind: 'response'; res: RawResponse } | { kind: 'timeout'; ms: number } | { kind: 'no-response'; ms: number; detail: string };

/**
 * Sends one request on its own connection (`Connection: close`) and reads the answer until the
 * server closes. A raw socket rather than node's HTTP client, which refuses to send the odd
 * header bytes and malformed bodies that are the point here.
 */
export function sendRaw(host: string, port: number, req: RawRequest, timeoutMs: number): Promise<SendResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (r: SendResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish({ kind: 'timeout', ms: Date.now() - started }), timeoutMs);
    socket.on('connect', () => {
      const hasLength = req.headers.some(([n]) => n.toLowerCase() === 'content-length' || n.toLowerCase() === 'transfer-encoding');
      const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${host}:${port}`, 'Connection: close'];
      for (const [n, v] of req.headers) lines.push(`${n}: ${v}`);
      if (req.body && !hasLength) lines.push(`Content-Length: ${req.body.length}`);
      // latin1 keeps every code unit below 256 as one byte, so a header can carry any byte value.
      socket.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
      if (req.body) socket.write(req.body);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      // A reset after a complete answer (the server closing early on a body it refused) is fine.
      const parsed = parseResponse(Buffer.concat(chunks), req.method);
      if (parsed) finish({ kind: 'response', res: { ...parsed, ms: Date.now() - started } });
      else finish({ kind: 'no-response', ms: Date.now() - started, detail: err.message });
    });
    socket.on('end', () => {
      const parsed = parseResponse(Buffer.concat(chunks), req.method);
      if (parsed) finish({ kind: 'response', res: { ...parsed, ms: Date.now() - started } });
      else finish({ kind: 'no-response', ms: Date.now() - started, detail: chunks.length ? 'unparseable answer' : 'connection closed without an answer' });
    });
  });
}

/** Status line, headers and body of an HTTP/1.1 answer read to the end (chunked bodies joined). */
function parseResponse(buf: Buffer, method: string): Omit<RawResponse, 'ms'> | null {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...headerLines] = buf.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!m) return null;
  // An interim answer (100 Continue) comes before the real one.
  if (m[1]!.startsWith('1')) return parseResponse(buf.subarray(headEnd + 4), method);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = buf.subarray(headEnd + 4);
  if (method === 'HEAD') body = Buffer.alloc(0);
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const joined = dechunk(body);
    if (!joined) return null;
    body = joined;
  } else if (headers['content-length'] !== undefined && body.length < Number(headers['content-length'])) {
    return null; // cut short
  }
  return { status: Number(m[1]), headers, body };
}

function dechunk(buf: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
    if (at > buf.length) return null;
  }
}

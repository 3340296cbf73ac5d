import { until } from './until';

/** What a client gets back: status, headers, the parsed JSON body (when JSON) and the raw bytes. */
export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
  bytes: Buffer;
}

/** The admin token the test stacks are started with (REELAY_ADMIN_TOKEN). */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

/** One request to a running Reelay (in-process stack or a spawned API), as a client sends it. */
export async function http(
  target: { url: string },
  method: string,
  path: string,
  opts: { key?: string | null; json?: unknown; body?: string | Buffer | FormData; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(target.url + path, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: unknown = null;
  if (bytes.length > 0 && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(bytes.toString('utf8'));
  return { status: res.status, headers: res.headers, body: parsed, bytes };
}

/** POST /v1/videos that must be accepted: returns the created video, or fails naming the answer. */
export async function createVideo(target: { url: string }, key: string, body: Record<string, unknown>): Promise<any> {
  const res = await http(target, 'POST', '/v1/videos', { key, json: body });
  if (res.status !== 200) throw new Error(`POST /v1/videos answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls GET /v1/videos/{id} until it ends; returns every progress value seen and the final object. */
export async function waitForVideo(target: { url: string }, key: string, id: string, timeoutMs = 90_000): Promise<{ video: any; progress: number[] }> {
  const progress: number[] = [];
  let last = 'unknown';
  const video = await until(
    `video ${id} to end`,
    async () => {
      const res = await http(target, 'GET', `/v1/videos/${id}`, { key });
      if (res.status !== 200) throw new Error(`GET /v1/videos/${id} answered ${res.status}: ${JSON.stringify(res.body)}`);
      progress.push(res.body.progress);
      last = res.body.status;
      return ['completed', 'failed'].includes(last) ? res.body : null;
    },
    timeoutMs,
    150,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (still ${last})`);
  });
  return { video, progress };
}

/** Creates a key through the admin API; returns its id and secret. */
export async function adminKey(target: { url: string }, settings: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await http(target, 'POST', '/admin/v1/keys', { key: ADMIN_TOKEN, json: { name: 'test', ...settings } });
  if (res.status !== 201) throw new Error(`admin create key answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { id: res.body.id, secret: res.body.key };
}

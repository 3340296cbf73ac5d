import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { hashApiKey } from '@reelay/core';
import { createDb, type Db } from '@reelay/db';
import { QUEUE_NAMES } from '@reelay/queue';
import { sendRaw, type RawRequest, type RawResponse, type SendResult } from './client';
import { genericPlan, operationMatcher, operationsOf, sweepPlans } from './generic';
import { planArbitrary, type Built, type ModelInfo, type OpenApi, type Plan, type World } from './requests';

export interface FuzzOptions {
  /** Requests to generate (a burst counts once here, and as each of its requests in the table). */
  n: number;
  seed: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** A request without an answer after this long is a hang. */
  timeoutMs?: number;
  /** Accepted tasks left to render to the end; the others are deleted (cancelled) once created. */
  renderMax?: number;
  log?: (line: string) => void;
}

/** One way the stack failed an oracle; a class groups findings by route, status and message pattern. */
export type Oracle =
  | '5xx'
  | 'hang'
  | 'no-answer'
  | 'bad-shape'
  | 'param'
  | 'cross-tenant'
  | 'header'
  | 'replayed-deleted'
  | 'idempotency'
  | 'orphan-row'
  | 'stuck-task'
  | 'failed-task'
  | 'crash';

interface Finding {
  oracle: Oracle;
  route: string;
  status: string;
  pattern: string;
  reproducer: string;
}

export interface FailureClass extends Finding {
  count: number;
}

export interface FuzzReport {
  seed: number;
  generated: number;
  requests: number;
  statusCounts: Record<string, number>;
  /** Answers per route and status: what the run reached. */
  byRoute: Record<string, Record<string, number>>;
  /** Requests per OpenAPI operation ("METHOD /path"), every operation of the document listed, by where they landed. */
  byOperation: Record<string, number>;
  counts: Record<Oracle, number>;
  accepted: number;
  rendered: number;
  classes: FailureClass[];
  seconds: number;
}

const ORACLES: Oracle[] = [
  '5xx',
  'hang',
  'no-answer',
  'bad-shape',
  'param',
  'cross-tenant',
  'header',
  'replayed-deleted',
  'idempotency',
  'orphan-row',
  'stuck-task',
  'failed-task',
  'crash',
];

/** Fields whose 400 may name the other spelling of the same thing (a conflict names the spelling that lost). */
const FIELD_GROUPS = new Map<string, string[]>(
  Object.entries({
    width: ['width', 'height', 'size'],
    height: ['width', 'height', 'size'],
    size: ['width', 'height', 'size'],
    duration: ['duration', 'seconds'],
    seconds: ['duration', 'seconds'],
    image: ['image', 'input_reference'],
    input_reference: ['image', 'input_reference'],
  }),
);

const TERMINAL = new Set(['completed', 'failed']);

interface StackInfo {
  url: string;
  owner: string;
  other: string;
  spare: string;
  adminToken: string;
}

/** Starts the stack under test in its own process (see stack-process.ts). */
async function startStackProcess(log: (s: string) => void): Promise<{ child: ChildProcess; info: StackInfo; stderr: () => string }> {
  // tsx's require hook rather than its CLI, which would put a process of its own in between and hide a crash.
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), join(__dirname, 'stack-process.ts')], {
    env: process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Its output (log lines go to stdout, crashes to stderr), the latest part kept for a crash report.
  let err = '';
  const keep = (c: Buffer) => {
    err = (err + c.toString()).slice(-8000);
  };
  child.stderr!.on('data', keep);
  child.stdout!.on('data', keep);
  // FUZZ_LOG_LEVEL=error (or lower) shows the stack's own log lines as they come.
  if (process.env.FUZZ_LOG_LEVEL) {
    child.stderr!.pipe(process.stderr);
    child.stdout!.pipe(process.stderr);
  }
  const info = await new Promise<StackInfo>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`fuzz stack did not start within 90 s: ${err}`)), 90_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as StackInfo);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fuzz stack exited with ${code}: ${err}`));
    });
  });
  log(`stack up at ${info.url} (pid ${child.pid})`);
  return { child, info, stderr: () => err };
}

function stopStackProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

const json = (res: RawResponse): any => {
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
};

/** Which tenant a request speaks as, by its API key. */
function tenantOf(req: RawRequest, info: StackInfo): 'owner' | 'other' | null {
  const auth = req.headers.filter(([n]) => n.toLowerCase() === 'authorization').map(([, v]) => v);
  if (auth.length !== 1) return null;
  return auth[0] === `Bearer ${info.owner}` ? 'owner' : auth[0] === `Bearer ${info.other}` ? 'other' : null;
}

/** An object id as Reelay issues them (vid_…, key_…, file_…): a prefix, then at least 8 letters or digits. */
const ISSUED_ID = /^[a-z][a-z0-9]{1,15}_[0-9A-Za-z]{8,}$/;

/** Every string of a JSON answer, and those of them that are object ids (under "id" or "…_id"). */
function stringsIn(body: unknown): { all: string[]; ids: string[] } {
  const all: string[] = [];
  const ids: string[] = [];
  const walk = (v: unknown, key: string, depth: number): void => {
    if (depth > 20 || all.length > 5000) return;
    if (typeof v === 'string') {
      all.push(v);
      if ((key === 'id' || key.endsWith('_id')) && ISSUED_ID.test(v)) ids.push(v);
    } else if (Array.isArray(v)) for (const x of v) walk(x, key, depth + 1);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k, depth + 1);
  };
  walk(body, '', 0);
  return { all, ids };
}

/** A message with its ids, numbers and quoted text replaced, so findings of one cause group together. */
export function messagePattern(message: string): string {
  return message
    .replace(/(vid|key|req|led|out|evt)_[0-9A-Za-z]+/g, '$1_…')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+/g, 'N')
    .slice(0, 110);
}

/** The oracles every single answer must pass. */
function checkAnswer(
  built: Built,
  result: SendResult,
  known: { deleted: Set<string>; owner: Set<string>; other: Set<string> },
): Omit<Finding, 'route' | 'reproducer'>[] {
  if (result.kind === 'timeout') return [{ oracle: 'hang', status: 'timeout', pattern: `no answer within ${result.ms} ms` }];
  if (result.kind === 'no-response') return [{ oracle: 'no-answer', status: '-', pattern: result.detail }];
  const { res } = result;
  const status = String(res.status);
  const found: Omit<Finding, 'route' | 'reproducer'>[] = [];
  const body = built.req.method === 'HEAD' ? undefined : json(res);
  const message: string = typeof body?.error?.message === 'string' ? body.error.message : '';
  if (res.status >= 500) found.push({ oracle: '5xx', status, pattern: messagePattern(message || res.body.toString('utf8').slice(0, 80)) });
  if (res.status >= 400) {
    const problem = shapeProblem(res, built.req.method, body);
    if (problem) found.push({ oracle: 'bad-shape', status, pattern: problem });
  }
  if (res.headers['x-powered-by'] !== undefined) found.push({ oracle: 'header', status, pattern: `x-powered-by: ${res.headers['x-powered-by']}` });
  if (res.headers['x-request-id'] === undefined) found.push({ oracle: 'header', status, pattern: 'no x-request-id' });
  if (res.status === 400 && body?.error?.code === 'invalid_parameter') {
    const param: string | null = body.error.param;
    // "Invalid parameter: …" and "Unknown parameter: <field>" are about a field: param names it, and so does the message.
    const named = /^(?:Invalid|Unknown) parameter: /.test(message);
    const top = param?.split(/[.[]/)[0];
    if (named && (param === null || !message.includes(param))) {
      found.push({ oracle: 'param', status, pattern: `message ${JSON.stringify(messagePattern(message))} but param is ${JSON.stringify(param)}` });
    } else if (
      built.expect.field !== undefined &&
      param !== built.expect.field &&
      !(FIELD_GROUPS.get(built.expect.field) ?? [built.expect.field]).includes(top ?? '\u0000')
    ) {
      found.push({
        oracle: 'param',
        status,
        pattern: `400 after changing ${JSON.stringify(built.expect.field)} names param ${JSON.stringify(param)}: ${messagePattern(message)}`,
      });
    }
  }
  if (res.status >= 200 && res.status < 300) {
    if (built.expect.crossTenant) found.push({ oracle: 'cross-tenant', status, pattern: `${built.req.method} of another tenant's video answered ${status}` });
    if (built.expect.lists && Array.isArray(body?.data)) {
      const foreign = built.expect.lists === 'owner' ? known.other : known.owner;
      if (body.data.some((v: { id?: string }) => v.id && foreign.has(v.id)))
        found.push({ oracle: 'cross-tenant', status, pattern: "a list shows another tenant's video" });
    }
    if (built.expect.idempotencyKey !== undefined && typeof body?.id === 'string' && known.deleted.has(body.id)) {
      found.push({ oracle: 'replayed-deleted', status, pattern: 'an Idempotency-Key replay returned a deleted video' });
    }
  }
  return found;
}

/** Why a 4xx/5xx answer is not `{"error":{"message","code","type","param"}}` (null when it is). */
function shapeProblem(res: RawResponse, method: string, body: any): string | null {
  const type = res.headers['content-type'] ?? '';
  if (!/^application\/json/i.test(type)) return `content-type ${JSON.stringify(type)}, body ${JSON.stringify(res.body.toString('utf8').slice(0, 60))}`;
  if (method === 'HEAD') return null;
  if (body === undefined) return `body is not JSON: ${JSON.stringify(res.body.toString('utf8').slice(0, 60))}`;
  if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'error') return `top-level keys ${JSON.stringify(Object.keys(body ?? {}))}`;
  const e = body.error;
  if (typeof e !== 'object' || e === null) return 'error is not an object';
  const keys = Object.keys(e).sort().join();
  if (keys !== 'code,message,param,type') return `error keys ${keys}`;
  if (
    typeof e.message !== 'string' ||
    e.message === '' ||
    typeof e.code !== 'string' ||
    typeof e.type !== 'string' ||
    !(e.param === null || typeof e.param === 'string')
  ) {
    return 'error fields of the wrong type';
  }
  return null;
}

/** The request as text, secrets replaced by placeholders, long parts cut. */
function reproducer(req: RawRequest, info: StackInfo): string {
  const hide = (s: string) =>
    s
      .split(info.owner)
      .join('<tenant-1-key>')
      .split(info.other)
      .join('<tenant-2-key>')
      .split(info.adminToken)
      .join('<admin-token>')
      .split(Buffer.from(`ops:${info.adminToken}`).toString('base64'))
      .join('<basic-admin>');
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);
  const lines = [`${req.method} ${cut(JSON.stringify(req.path).slice(1, -1), 200)}`];
  for (const [n, v] of req.headers) lines.push(`  ${cut(JSON.stringify(n).slice(1, -1), 60)}: ${cut(hide(JSON.stringify(v).slice(1, -1)), 160)}`);
  if (req.body && req.body.length) lines.push(`  body: ${cut(JSON.stringify(req.body.toString('latin1')), 400)}`);
  return lines.join('\n');
}

const reqSize = (r: string): number => r.length;

/** Runs a seeded fuzz session against a stack of its own and returns what it found. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 5000;
  const concurrency = opts.concurrency ?? 6;
  const renderMax = opts.renderMax ?? 40;
  const { child, info, stderr } = await startStackProcess(log);
  const url = new URL(info.url);
  const host = url.hostname;
  const port = Number(url.port);
  const db: Db = createDb(process.env.DATABASE_URL!, 2);
  let crashed: string | null = null;
  child.once('exit', (code, signal) => {
    crashed = `exit code ${code}, signal ${signal}`;
  });

  const send = (req: RawRequest, ms = timeoutMs) => sendRaw(host, port, req, ms);
  const call = async (
    method: string,
    path: string,
    key: string | null,
    body?: unknown,
    headers: [string, string][] = [],
  ): Promise<{ status: number; body: any; headers: Record<string, string> }> => {
    const h: [string, string][] = [...headers];
    if (key) h.push(['Authorization', `Bearer ${key}`]);
    if (body !== undefined) h.push(['Content-Type', 'application/json']);
    const r = await send({ method, path, headers: h, body: body === undefined ? null : Buffer.from(JSON.stringify(body)) }, 30_000);
    if (r.kind !== 'response') throw new Error(`${method} ${path}: ${r.kind}`);
    return { status: r.res.status, body: json(r.res), headers: r.res.headers };
  };

  const findings: Finding[] = [];
  const statusCounts: Record<string, number> = {};
  const byRoute: Record<string, Record<string, number>> = {};
  const byOperation: Record<string, number> = {};
  let requests = 0;
  const accepted = new Map<string, { tenant: 'owner' | 'other'; renderable: boolean; reproducer: string; route: string }>();
  const known = { deleted: new Set<string>(), owner: new Set<string>(), other: new Set<string>() };
  const byRequestId = new Map<string, { route: string; reproducer: string; status: number }>();
  let rendering = 0;

  try {
    // --- The world the requests refer to --------------------------------------------------------
    const doc = (await call('GET', '/openapi.json', null)).body as OpenApi;
    const models = ((await call('GET', '/v1/models', info.owner)).body.data as ModelInfo[]).filter((m) => m.limits);
    const tiny = { model: 'tiny', prompt: 'fuzz seed video', duration: 1, width: 64, height: 64, fps: 10 };
    const completed = await call('POST', '/v1/videos', info.owner, tiny);
    if (completed.status !== 200) throw new Error(`setup create answered ${completed.status}: ${JSON.stringify(completed.body)}`);
    const deleted = await call('POST', '/v1/videos', info.owner, { ...tiny, prompt: 'deleted at once' }, [['Idempotency-Key', 'fz-deleted']]);
    await call('DELETE', `/v1/videos/${deleted.body.id}`, info.owner);
    const others = [
      await call('POST', '/v1/videos', info.other, { ...tiny, prompt: 'tenant two' }),
      await call('POST', '/v1/videos', info.other, { ...tiny, prompt: 'tenant two again' }),
    ];
    const deadline = Date.now() + 60_000;
    for (;;) {
      const v = await call('GET', `/v1/videos/${completed.body.id}`, info.owner);
      if (v.body.status === 'completed') break;
      if (v.body.status === 'failed' || Date.now() > deadline) throw new Error(`setup video did not complete: ${JSON.stringify(v.body)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const head = await call('HEAD', `/v1/videos/${completed.body.id}/content`, info.owner);
    const [ownerKeyId, otherKeyId, spareKeyId] = await Promise.all(
      [info.owner, info.other, info.spare].map(async (k) => (await db.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(k) } })).id),
    );
    const world: World = {
      ownerKey: info.owner,
      otherKey: info.other,
      adminToken: info.adminToken,
      ownerKeyId: ownerKeyId!,
      otherKeyId: otherKeyId!,
      spareKeyId: spareKeyId!,
      ownerVideos: [completed.body.id],
      otherVideos: others.map((o) => o.body.id as string),
      completedVideo: completed.body.id,
      completedEtag: head.headers.etag ?? '"none"',
      deletedVideo: deleted.body.id,
      deletedIdempotencyKey: 'fz-deleted',
      queueNames: Object.values(QUEUE_NAMES),
      learned: { owner: [], other: [] },
      seq: 0,
    };
    known.owner.add(completed.body.id).add(deleted.body.id);
    for (const o of others) known.other.add(o.body.id);
    known.deleted.add(deleted.body.id);
    const setupIds = new Set([completed.body.id, deleted.body.id, ...world.otherVideos]);
    const runStart = new Date();
    log(`setup done: ${models.length} models, completed video ${world.completedVideo}`);

    // --- The requests -------------------------------------------------------------------------------
    // The hand-written generators, the generic one over every operation of the document (a fair
    // share), and a sweep of a few generic requests per operation spread through the run, so an
    // operation cannot go without requests; the sweep comes after the routes that make ids it uses.
    const sweep = sweepPlans(doc, opts.seed);
    const drawn = fc.sample(fc.oneof({ weight: 85, arbitrary: planArbitrary(doc, models) }, { weight: 15, arbitrary: genericPlan(doc) }), {
      seed: opts.seed,
      numRuns: Math.max(1, opts.n - sweep.length),
    });
    const plans: Plan[] = [];
    sweep.forEach((p, i) => {
      const until = Math.floor(((i + 1) * drawn.length) / (sweep.length + 1));
      while (plans.length - i < until) plans.push(drawn[plans.length - i]!);
      plans.push(p);
    });
    plans.push(...drawn.slice(plans.length - sweep.length));
    const operationOf = operationMatcher(doc);
    for (const o of operationsOf(doc)) byOperation[o.key] = 0;
    const deletes: Promise<unknown>[] = [];
    const cancelledByOperator = new Set<string>(); // tasks an admin cancel was answered 2xx for (generic requests)

    const record = (plan: Plan, built: Built, result: SendResult, rid: string): void => {
      requests++;
      const statusKey = result.kind === 'response' ? String(result.res.status) : result.kind;
      statusCounts[statusKey] = (statusCounts[statusKey] ?? 0) + 1;
      const route = (byRoute[plan.route.endsWith('(raw)') ? 'odd HTTP (raw)' : plan.route] ??= {});
      route[statusKey] = (route[statusKey] ?? 0) + 1;
      const operation = operationOf(built.req.method, built.req.path);
      if (operation) byOperation[operation] = (byOperation[operation] ?? 0) + 1;
      const repro = reproducer(built.req, info);
      byRequestId.set(rid, { route: plan.route, reproducer: repro, status: result.kind === 'response' ? result.res.status : 0 });
      for (const f of checkAnswer(built, result, known)) findings.push({ ...f, route: plan.route, reproducer: repro });
      const asTenant = tenantOf(built.req, info);
      if (asTenant && result.kind === 'response' && result.res.status >= 200 && result.res.status < 300 && built.req.method !== 'HEAD') {
        const strings = stringsIn(json(result.res));
        // A 2xx answer to one tenant never holds an id the run knows as the other tenant's.
        const foreign = asTenant === 'other' ? known.owner : known.other;
        const leaked = strings.all.find((x) => foreign.has(x));
        if (leaked)
          findings.push({
            oracle: 'cross-tenant',
            route: plan.route,
            status: String(result.res.status),
            pattern: `a 2xx answer to tenant ${asTenant === 'other' ? 2 : 1} holds an id of tenant ${asTenant === 'other' ? 1 : 2}`,
            reproducer: repro,
          });
        // Ids of any kind this tenant was shown are its own: later generic requests put them in paths.
        for (const id of strings.ids) {
          if (foreign.has(id) || known[asTenant].has(id)) continue;
          known[asTenant].add(id);
          if (world.learned[asTenant].length < 500) world.learned[asTenant].push(id);
        }
      }
      // FUZZ_TRACE=<regexp over "route status">: print the matching answers and their requests.
      const traced = `${plan.route} ${result.kind === 'response' ? result.res.status : result.kind}`;
      if (process.env.FUZZ_TRACE && new RegExp(process.env.FUZZ_TRACE).test(traced)) {
        process.stderr.write(`${traced} ${result.kind === 'response' ? result.res.body.toString('utf8').slice(0, 300) : ''}\n${repro}\n`);
      }
      if (result.kind !== 'response' || result.res.status < 200 || result.res.status >= 300) return;
      const body = json(result.res);
      const method = built.req.method;
      if (method === 'DELETE' && built.req.path.startsWith('/v1/videos/') && typeof body?.id === 'string') known.deleted.add(body.id);
      const operatorCancel = /^\/admin\/v1\/tasks\/([^/?]+)\/cancel/.exec(built.req.path);
      if (method === 'POST' && operatorCancel) cancelledByOperator.add(decodeURIComponent(operatorCancel[1]!));
      const tenant = built.expect.creates;
      if (!tenant || method !== 'POST' || typeof body?.id !== 'string' || !body.id.startsWith('vid_') || body.object !== 'video') return;
      if (accepted.has(body.id)) return; // an idempotent replay
      const keep = built.expect.renderable === true && rendering < renderMax;
      if (keep) rendering++;
      accepted.set(body.id, { tenant, renderable: keep, reproducer: repro, route: plan.route });
      known[tenant].add(body.id);
      (tenant === 'owner' ? world.ownerVideos : world.otherVideos).push(body.id);
      if (!keep) {
        // Too big to render here: its owner deletes it, which cancels it (and is fuzzed like any delete).
        const key = tenant === 'owner' ? info.owner : info.other;
        deletes.push(
          call('DELETE', `/v1/videos/${body.id}`, key).then(
            (d) => {
              if (d.status !== 200)
                findings.push({
                  oracle: d.status >= 500 ? '5xx' : 'stuck-task',
                  route: 'DELETE /v1/videos/{id}',
                  status: String(d.status),
                  pattern: `delete of an accepted task answered ${d.status}`,
                  reproducer: repro,
                });
              else known.deleted.add(body.id);
            },
            () => undefined,
          ),
        );
      }
    };

    const healthy = async (): Promise<boolean> => {
      const r = await send({ method: 'GET', path: '/healthz', headers: [], body: null }, 2000);
      return r.kind === 'response' && r.res.status === 200;
    };

    let next = 0;
    let aborted: string | null = null;
    const runOne = async (plan: Plan): Promise<void> => {
      world.seq++;
      const count = plan.burst ?? 1;
      const builtOnce = plan.build(world);
      const batch = Array.from({ length: count }, (_, i) => {
        const built: Built = count === 1 ? builtOnce : plan.build(world);
        if (count > 1) built.req.body = Buffer.from(JSON.stringify({ ...JSON.parse(builtOnce.req.body!.toString()), prompt: `burst ${world.seq} body ${i}` }));
        if (count > 1) built.req.headers = builtOnce.req.headers;
        const rid = `fz${world.seq}x${i}`;
        const headers = built.req.headers.some(([n]) => n.toLowerCase() === 'x-request-id')
          ? built.req.headers
          : [...built.req.headers, ['X-Request-Id', rid] as [string, string]];
        return { built: { ...built, req: { ...built.req, headers } }, rid };
      });
      const results = await Promise.all(batch.map((b) => send(b.built.req)));
      results.forEach((r, i) => record(plan, batch[i]!.built, r, batch[i]!.rid));
      if (count > 1) {
        const ids = new Set(results.flatMap((r) => (r.kind === 'response' && r.res.status === 200 ? [json(r.res)?.id] : [])));
        const statuses = results.map((r) => (r.kind === 'response' ? r.res.status : 0));
        if (ids.size > 1 || !statuses.every((s) => s === 200 || s === 409)) {
          findings.push({
            oracle: 'idempotency',
            route: plan.route,
            status: [...new Set(statuses)].join('/'),
            pattern: `${count} creates with one Idempotency-Key: ${ids.size} tasks, statuses ${[...new Set(statuses)].sort().join(',')}`,
            reproducer: reproducer(batch[0]!.built.req, info),
          });
        }
      }
      if (results.some((r) => r.kind === 'timeout') && !(await healthy())) {
        // The process stopped answering: give it a while, then give up on the run.
        const until = Date.now() + 30_000;
        while (!(await healthy())) {
          if (Date.now() > until || crashed) {
            aborted = 'the API stopped answering /healthz after a hang';
            return;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    const lanes = Array.from({ length: concurrency }, async () => {
      while (next < plans.length && !aborted && !crashed) {
        const plan = plans[next++]!;
        await runOne(plan);
        if (next % 1000 === 0) log(`${next}/${plans.length} requests, ${findings.length} findings`);
      }
    });
    await Promise.all(lanes);
    await Promise.all(deletes);
    if (crashed) {
      log(`the stack process exited (${crashed}); its last output:\n${stderr()}`);
      findings.push({
        oracle: 'crash',
        route: '-',
        status: '-',
        pattern: `the stack process exited (${crashed})`,
        reproducer: stderr().trim().split('\n').slice(-4).join('\n').slice(0, 800),
      });
    }
    if (aborted) findings.push({ oracle: 'hang', route: '-', status: '-', pattern: aborted, reproducer: '-' });

    // --- After the run: every accepted task ends, no refused request left a row -----------------
    if (!crashed) {
      const ids = [...accepted.keys()];
      const live = async () =>
        (await db.task.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } })).filter((t) => !TERMINAL.has(t.status));
      const drainUntil = Date.now() + 60_000 + 2500 * rendering;
      let stillLive = await live();
      while (stillLive.length > 0 && Date.now() < drainUntil) {
        await new Promise((r) => setTimeout(r, 500));
        stillLive = await live();
      }
      for (const t of stillLive) {
        const a = accepted.get(t.id)!;
        findings.push({
          oracle: 'stuck-task',
          route: a.route,
          status: t.status,
          pattern: `accepted task still ${t.status} after the drain`,
          reproducer: a.reproducer,
        });
      }
      const rows = await db.task.findMany({
        where: { id: { in: ids } },
        select: { id: true, status: true, errorCode: true, errorMessage: true, deletedAt: true },
      });
      for (const t of rows) {
        const a = accepted.get(t.id)!;
        // A task its owner deleted (the fuzzer's own cleanup, or a fuzzed DELETE) or an operator cancelled (a fuzzed admin
        // cancel) ends as cancelled; any other failure of a tiny render is a finding.
        if (t.status === 'failed' && !(t.errorCode === 'cancelled' && (t.deletedAt !== null || cancelledByOperator.has(t.id)))) {
          findings.push({
            oracle: 'failed-task',
            route: a.route,
            status: t.errorCode ?? 'failed',
            pattern: messagePattern(t.errorMessage ?? ''),
            reproducer: a.reproducer,
          });
        }
      }
      const made = await db.task.findMany({
        where: { apiKeyId: { in: [world.ownerKeyId, world.otherKeyId] }, createdAt: { gte: new Date(runStart.getTime() - 1000) } },
        select: { id: true, requestId: true, status: true, apiKeyId: true },
      });
      for (const t of made) {
        if (accepted.has(t.id) || setupIds.has(t.id)) continue;
        const from = byRequestId.get(t.requestId ?? '');
        // Made by a request that was answered 2xx (a route that makes tasks without naming them, like a batch): accepted, not an orphan.
        if (from && from.status >= 200 && from.status < 300) {
          stillLive.push(t);
          accepted.set(t.id, {
            tenant: t.apiKeyId === world.otherKeyId ? 'other' : 'owner',
            renderable: false,
            reproducer: from.reproducer,
            route: from.route,
          });
          continue;
        }
        findings.push({
          oracle: 'orphan-row',
          route: from?.route ?? '?',
          status: t.status,
          pattern: 'a task row exists that no 2xx answer announced',
          reproducer: from?.reproducer ?? `request id ${t.requestId}`,
        });
      }
      // Leave nothing running: whatever is still live is cancelled by its owner.
      for (const t of stillLive) {
        const a = accepted.get(t.id)!;
        await call('DELETE', `/v1/videos/${t.id}`, a.tenant === 'owner' ? info.owner : info.other).catch(() => undefined);
      }
    }

    // --- The table --------------------------------------------------------------------------------
    const classes = new Map<string, FailureClass>();
    for (const f of findings) {
      const key = `${f.oracle}|${f.route}|${f.status}|${f.pattern}`;
      const c = classes.get(key);
      if (!c) classes.set(key, { ...f, count: 1 });
      else {
        c.count++;
        if (reqSize(f.reproducer) < reqSize(c.reproducer)) c.reproducer = f.reproducer;
      }
    }
    const counts = Object.fromEntries(ORACLES.map((o) => [o, 0])) as Record<Oracle, number>;
    for (const f of findings) counts[f.oracle]++;
    return {
      seed: opts.seed,
      generated: plans.length,
      requests,
      statusCounts,
      byRoute,
      byOperation,
      counts,
      accepted: accepted.size,
      rendered: rendering,
      classes: [...classes.values()].sort((a, b) => b.count - a.count),
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await db.$disconnect();
    await stopStackProcess(child);
  }
}

/** Requests per OpenAPI operation, then answers per route (generator) and status, one line each. */
export function formatCoverage(r: FuzzReport): string {
  const ops = Object.keys(r.byOperation).sort();
  const opWidth = Math.max(...ops.map((k) => k.length));
  const opLines = ops.map((k) => `${k.padEnd(opWidth)}  ${String(r.byOperation[k]).padStart(5)}${r.byOperation[k] === 0 ? '  NOT FUZZED' : ''}`);
  const routes = Object.keys(r.byRoute).sort();
  const width = Math.max(...routes.map((k) => k.length));
  return `requests per OpenAPI operation (${ops.length} operations):\n${opLines.join('\n')}\n\nanswers per generator route and status:\n${routes
    .map(
      (k) =>
        `${k.padEnd(width)}  ${Object.entries(r.byRoute[k]!)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([s, n]) => `${s}:${n}`)
          .join(' ')}`,
    )
    .join('\n')}\n`;
}

/** The run as a table: totals, status counts, oracle counts, then each failure class with one reproducer. */
export function formatReport(r: FuzzReport): string {
  const rows: [string, string | number][] = [
    ['seed', r.seed],
    ['requests', `${r.requests} (${r.generated} generated; bursts count each request)`],
    [
      'status counts',
      Object.entries(r.statusCounts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([s, n]) => `${s}: ${n}`)
        .join(', '),
    ],
    ['accepted tasks', `${r.accepted} (${r.rendered} rendered to the end, the rest deleted by their owner)`],
    ['5xx', r.counts['5xx']],
    ['hangs', r.counts.hang],
    ['no answer', r.counts['no-answer']],
    ['bad shapes', r.counts['bad-shape']],
    ['param misses', r.counts.param],
    ['header problems', r.counts.header],
    ['cross-tenant reads', r.counts['cross-tenant']],
    ['deleted replays', r.counts['replayed-deleted']],
    ['idempotency races', r.counts.idempotency],
    ['orphan rows', r.counts['orphan-row']],
    ['stuck tasks', r.counts['stuck-task']],
    ['failed tasks', r.counts['failed-task']],
    ['crashes', r.counts.crash],
    ['failure classes', r.classes.length],
    ['duration', `${r.seconds} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (r.classes.length) {
    lines.push('', 'failure classes (count, oracle, route, status, pattern) with one minimal reproducer each:');
    for (const c of r.classes) {
      lines.push(`${String(c.count).padStart(5)}  ${c.oracle}  ${c.route}  ${c.status}  ${c.pattern}`);
      lines.push(...c.reproducer.split('\n').map((l) => `         ${l}`));
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The chaos run: a whole Reelay (one API, two workers) on its own Postgres and Redis, 500 tasks
 * created by careful clients (Idempotency-Key, retry on 429/5xx/network errors), and the faults of
 * a bad day: three worker kill -9s, an API kill -9 mid-submission, Redis restarted empty, Postgres
 * restarted fast and immediate. Prints what each fault cost and checks that nothing was lost,
 * duplicated, stuck or charged wrong, and that nothing is left on disk after the sweep.
 *
 *   npx tsx bench/chaos/run.ts [--tasks 500] [--create-seconds 45] [--keep]
 *
 * Exits non-zero on any lost, duplicated or stuck task, a broken ledger, leftovers, an outage
 * answer that is not a 503 with Retry-After, or a recovery over its target (Redis ≤ 10 s, a killed
 * worker's jobs ≤ 15 s). Everything runs on 127.0.0.1; needs initdb/pg_ctl (Debian postgresql),
 * redis-server and ffmpeg. Runs as root by running Postgres as the `postgres` user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApiKey, createDatabaseIfMissing, createDb, migrate } from '@reelay/db';
import IORedis from 'ioredis';

const ROOT = resolve(__dirname, '../..');
const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const TASKS = flag('tasks', 500);
const KEEP = args.includes('--keep');
const REDIS_TARGET_S = 10;
const WORKER_TARGET_S = 15;
const PREFIX = 'chaos';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

// ---------------------------------------------------------------- services
const work = mkdtempSync(join(tmpdir(), 'reelay-chaos-'));
chmodSync(work, 0o777);
const pgData = join(work, 'pg');
const pgSock = join(work, 'pgsock');
const asPostgres = (cmd: string, cmdArgs: string[]): string =>
  execFileSync(process.getuid?.() === 0 ? 'runuser' : cmd, process.getuid?.() === 0 ? ['-u', 'postgres', '--', cmd, ...cmdArgs] : cmdArgs, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const pgBin = (name: string): string => {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return join('/usr/lib/postgresql', versions[0]!, 'bin', name);
};
let pgPort = 0;
const pgCtl = (...a: string[]) => asPostgres(pgBin('pg_ctl'), ['-D', pgData, '-w', '-t', '60', '-l', join(work, 'pg.log'), ...a]);
function startPostgres(): void {
  pgCtl('start', '-o', `-p ${pgPort} -k ${pgSock} -c listen_addresses=127.0.0.1 -c max_connections=200`);
}

let redisPort = 0;
let redis: ChildProcess | null = null;
async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
  });
  const probe = new IORedis(`redis://127.0.0.1:${redisPort}`, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      await sleep(50);
    }
  }
  probe.disconnect();
}

// ---------------------------------------------------------------- Reelay processes
let env: Record<string, string> = {};
let spawned = 0;
/** Each process logs to its own file in the work dir (kept with --keep). */
function spawnReelay(app: 'api' | 'worker', extra: Record<string, string> = {}): ChildProcess {
  const log = openSync(join(work, `${app}-${++spawned}.log`), 'a');
  return spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/main.ts`], {
    cwd: ROOT,
    env: { ...process.env, ...env, ...extra },
    stdio: ['ignore', log, log],
  });
}
const killed = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));
async function kill9(c: ChildProcess): Promise<void> {
  c.kill('SIGKILL');
  await killed(c);
}

// ---------------------------------------------------------------- the careful client
interface Answer {
  status: number;
  code: string | null;
  retryAfter: boolean;
}
const refused = new Map<string, number>(); // "503 service_unavailable" → count
const badOutageAnswers: string[] = [];
let apiUrl = '';
let apiKey = '';

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer & { json: any }> {
  const res = await fetch(apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, code: json?.error?.code ?? null, retryAfter: res.headers.has('retry-after'), json };
}

/** Notes an answer given during an outage: it must be a 503 with Retry-After in the error shape (429 keeps its own meaning). */
function noteRefusal(a: Answer, where: string): void {
  const label = `${a.status} ${a.code ?? '(no code)'}`;
  refused.set(label, (refused.get(label) ?? 0) + 1);
  if (a.status >= 500 && !(a.status === 503 && a.code === 'service_unavailable' && a.retryAfter))
    badOutageAnswers.push(`${where}: ${label}${a.retryAfter ? '' : ' without Retry-After'}`);
}

const acknowledged = new Map<number, string>(); // request index → video id
async function createCarefully(i: number): Promise<void> {
  const body = { prompt: `chaos ${i}`, duration: 1, width: 64, height: 64, fps: 24 };
  for (let attempt = 0; ; attempt++) {
    try {
      const a = await call('POST', '/v1/videos', body, { 'idempotency-key': `chaos-${i}` });
      if (a.status === 200) {
        const earlier = acknowledged.get(i);
        if (earlier && earlier !== a.json.id) throw new Error(`request ${i} answered with two ids: ${earlier}, ${a.json.id}`);
        acknowledged.set(i, a.json.id);
        return;
      }
      noteRefusal(a, 'create');
    } catch (err) {
      if ((err as Error).message.startsWith('request ')) throw err;
      const label = 'connection refused or reset';
      refused.set(label, (refused.get(label) ?? 0) + 1);
    }
    await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
  }
}

/** Reads during the faults, as a dashboard would: every answer must be 200 or a proper 503. */
let probing = true;
async function probeReads(): Promise<void> {
  while (probing) {
    try {
      const a = await call('GET', '/v1/videos?limit=1');
      if (a.status !== 200) noteRefusal(a, 'list');
    } catch {
      /* API process down: nothing answered */
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------- measurements
const faults: { fault: string; seconds: number | null; target: number | null; note: string }[] = [];

async function liveTaskIds(db: ReturnType<typeof createDb>): Promise<string[]> {
  for (;;) {
    try {
      const rows = await db.task.findMany({
        where: { OR: [{ status: 'processing' }, { status: 'pending', admittedAt: { not: null } }] },
        select: { id: true },
      });
      return rows.map((r) => r.id);
    } catch {
      await sleep(200); // Postgres restarting
    }
  }
}

/** Seconds until every admitted or processing task has a job in Redis again. */
async function untilEveryLiveTaskHasAJob(db: ReturnType<typeof createDb>, since: number, limitS: number): Promise<number | null> {
  const r = new IORedis(`redis://127.0.0.1:${redisPort}`, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    while ((now() - since) / 1000 < limitS) {
      const ids = await liveTaskIds(db);
      try {
        const pipe = r.pipeline();
        for (const id of ids) pipe.exists(`${PREFIX}:video-tasks:${id}`);
        const res = (await pipe.exec()) ?? [];
        const missing = res.filter(([, n]) => n === 0).length;
        if (missing === 0) return (now() - since) / 1000;
      } catch {
        /* Redis not up yet */
      }
      await sleep(250);
    }
    return null;
  } finally {
    r.disconnect();
  }
}

/**
 * The task jobs a worker process holds: active jobs whose processedBy is its name (host:pid, set
 * by registerWorker). Read from Redis right before it is killed.
 */
async function jobsHeldBy(pid: number): Promise<string[]> {
  const r = new IORedis(`redis://127.0.0.1:${redisPort}`, { maxRetriesPerRequest: 1 });
  try {
    const active = await r.lrange(`${PREFIX}:video-tasks:active`, 0, -1);
    const pipe = r.pipeline();
    for (const id of active) pipe.hget(`${PREFIX}:video-tasks:${id}`, 'pb');
    const by = ((await pipe.exec()) ?? []).map(([, v]) => v);
    return active.filter((_, i) => by[i] === `${hostname()}:${pid}`);
  } finally {
    r.disconnect();
  }
}

/**
 * Seconds until every job the killed worker held was taken by another worker (its processedBy
 * changed) or is gone (its task ended). Task rows are no proof: a starting worker's pass touches
 * every live task's updated_at without running any job.
 */
async function untilHeldJobsTakenOver(ids: string[], deadPid: number, since: number, limitS: number): Promise<number | null> {
  const r = new IORedis(`redis://127.0.0.1:${redisPort}`, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    while ((now() - since) / 1000 < limitS) {
      try {
        const pipe = r.pipeline();
        for (const id of ids) pipe.hget(`${PREFIX}:video-tasks:${id}`, 'pb');
        const by = ((await pipe.exec()) ?? []).map(([, v]) => v);
        if (by.every((v) => v !== `${hostname()}:${deadPid}`)) return (now() - since) / 1000;
      } catch {
        /* Redis busy or restarting */
      }
      await sleep(250);
    }
    return null;
  } finally {
    r.disconnect();
  }
}

// ---------------------------------------------------------------- the run
async function main(): Promise<void> {
  pgPort = await freePort();
  redisPort = await freePort();
  const apiPort = await freePort();
  mkdirSync(pgSock);
  chmodSync(pgSock, 0o777);
  asPostgres(pgBin('initdb'), ['-D', pgData, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  startPostgres();
  await startRedis();
  const dbUrl = `postgresql://postgres@127.0.0.1:${pgPort}/reelay_chaos`;
  await createDatabaseIfMissing(dbUrl);
  await migrate(dbUrl);
  const db = createDb(dbUrl, 4);
  apiKey = (await createApiKey(db, { name: 'chaos' })).secret;
  const storage = join(work, 'storage');
  const scratch = join(work, 'tmp');
  mkdirSync(scratch);
  env = {
    NODE_ENV: 'production',
    DATABASE_URL: dbUrl,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    REELAY_QUEUE_PREFIX: PREFIX,
    REELAY_STORAGE_DIR: storage,
    TMPDIR: scratch,
    LOG_LEVEL: 'info',
    POLL_MIN_MS: '200',
    POLL_MAX_MS: '1000',
    WORKER_METRICS_PORT: '0',
    WORKER_LEFTOVER_MAX_AGE_MS: '30000', // above a finalize's slowest step under load: a younger scratch folder may still be in use
    WORKER_LEFTOVER_SWEEP_INTERVAL_MS: '2000',
    PORT: String(apiPort),
  };
  apiUrl = `http://127.0.0.1:${apiPort}`;
  let api = spawnReelay('api');
  const workers = [spawnReelay('worker'), spawnReelay('worker')];
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${apiUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await sleep(100);
  }
  console.log(`chaos: ${TASKS} tasks, API ${apiUrl}, Postgres :${pgPort}, Redis :${redisPort}, work dir ${work}`);

  // Careful clients, 20 at a time, paced so the creates span every fault (about 45 s).
  const started = now();
  const spanMs = flag('create-seconds', 45) * 1000;
  let next = 0;
  const clients = Array.from({ length: 20 }, async () => {
    while (next < TASKS) {
      const i = next++;
      const due = started + (i * spanMs) / TASKS;
      if (due > now()) await sleep(due - now());
      await createCarefully(i);
    }
  });
  const prober = probeReads();

  const workerKill = async (n: number, which: number) => {
    const deadPid = workers[which]!.pid!;
    const held = await jobsHeldBy(deadPid);
    const t = now();
    await kill9(workers[which]!);
    workers[which] = spawnReelay('worker');
    const s = await untilHeldJobsTakenOver(held, deadPid, t, 60);
    faults.push({
      fault: `worker kill -9 #${n}`,
      seconds: s,
      target: WORKER_TARGET_S,
      note: `until each of the ${held.length} task jobs it held was taken by another worker`,
    });
  };
  await sleep(3000);
  await workerKill(1, 0);
  await sleep(3000);
  await workerKill(2, 1);
  await sleep(3000);
  await workerKill(3, 0);

  // The API dies mid-submission; clients retry with the same Idempotency-Key.
  await sleep(2000);
  const apiDown = now();
  await kill9(api);
  await sleep(1000);
  api = spawnReelay('api');
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${apiUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await sleep(100);
  }
  faults.push({ fault: 'API kill -9', seconds: (now() - apiDown) / 1000, target: null, note: 'until /healthz answered again (1 s down on purpose)' });

  // Redis restarted empty.
  await sleep(2000);
  const redisDown = now();
  redis!.kill('SIGKILL');
  await killed(redis!);
  await startRedis();
  const redisS = await untilEveryLiveTaskHasAJob(db, redisDown, 120);
  faults.push({ fault: 'Redis restarted empty', seconds: redisS, target: REDIS_TARGET_S, note: 'until every admitted or processing task had a job again' });

  // Postgres restarted, fast then immediate.
  for (const mode of ['fast', 'immediate'] as const) {
    await sleep(3000);
    const t = now();
    if (mode === 'fast') pgCtl('restart', '-m', 'fast', '-o', `-p ${pgPort} -k ${pgSock} -c listen_addresses=127.0.0.1 -c max_connections=200`);
    else {
      pgCtl('stop', '-m', 'immediate');
      startPostgres();
    }
    faults.push({ fault: `Postgres restart (${mode})`, seconds: (now() - t) / 1000, target: null, note: 'pg_ctl until accepting connections' });
  }

  await Promise.all(clients);
  const createdS = (now() - started) / 1000;
  // Every acknowledged task must end.
  const ids = [...acknowledged.values()];
  const deadline = now() + 600_000;
  let live = ids.length;
  while (now() < deadline) {
    live = await db.task.count({ where: { id: { in: ids }, status: { in: ['pending', 'processing'] } } }).catch(() => live);
    if (live === 0) break;
    await sleep(1000);
  }
  probing = false;
  await prober;
  // Let the leftover sweep run past its age window.
  await sleep(35_000);

  // ---------------------------------------------------------------- the books
  const tasks = await db.task.findMany({
    select: { id: true, status: true, n: true, costMicros: true, errorCode: true, apiKeyId: true, idempotencyKey: true },
  });
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const lost = ids.filter((id) => !byId.has(id)).length + (TASKS - acknowledged.size);
  const duplicated = tasks.length - new Set(tasks.map((t) => t.idempotencyKey)).size + Math.max(0, tasks.length - TASKS);
  const completed = tasks.filter((t) => t.status === 'completed').length;
  const failed = tasks.filter((t) => t.status === 'failed');
  const stuck = tasks.filter((t) => t.status === 'pending' || t.status === 'processing').length;
  const outputs = await db.taskOutput.groupBy({ by: ['taskId'], _count: { _all: true } });
  const outputCount = new Map(outputs.map((o) => [o.taskId, o._count._all]));
  const badOutputSets = tasks.filter((t) => t.status === 'completed' && outputCount.get(t.id) !== t.n * 3).length;
  const ledger = await db.ledgerEntry.aggregate({ _sum: { amountMicros: true } });
  const charged = tasks.reduce((s, t) => s + (t.costMicros ?? 0n), 0n);
  const key = await db.apiKey.findFirstOrThrow({ where: { name: 'chaos' } });
  const ledgerOk = (ledger._sum.amountMicros ?? 0n) === charged && key.committedMicros === charged;
  const leftovers = [
    ...(existsSync(join(storage, '.tmp')) ? readdirSync(join(storage, '.tmp')).map((f) => `storage/.tmp/${f}`) : []),
    ...(existsSync(join(work, 'preview-renders'))
      ? readdirSync(join(work, 'preview-renders'))
          .filter((f) => f !== '.running')
          .map((f) => `preview-renders/${f}`)
      : []),
    ...(existsSync(join(work, 'preview-renders', '.running'))
      ? readdirSync(join(work, 'preview-renders', '.running')).map((f) => `preview-renders/.running/${f}`)
      : []),
    ...readdirSync(scratch)
      .filter((f) => f.startsWith('reelay-'))
      .map((f) => `tmp/${f}`),
  ];

  console.log('\nfault                        seconds  target  note');
  for (const f of faults) {
    const s = f.seconds === null ? 'never' : f.seconds.toFixed(1);
    console.log(`${f.fault.padEnd(28)} ${s.padStart(7)}  ${f.target === null ? '     -' : `≤${f.target} s`.padStart(6)}  ${f.note}`);
  }
  console.log('\nrefused or failed answers during the run (retried by the clients):');
  if (refused.size === 0) console.log('  none');
  for (const [label, count] of [...refused].sort()) console.log(`  ${String(count).padStart(5)}  ${label}`);
  console.log(`\ncreates acknowledged ${acknowledged.size}/${TASKS} in ${createdS.toFixed(1)} s`);
  console.log(
    `tasks ${tasks.length}: completed ${completed}, failed ${failed.length}${failed.length ? ` (${[...new Set(failed.map((f) => f.errorCode))].join(', ')})` : ''}, stuck ${stuck}`,
  );
  console.log(`lost ${lost}, duplicated ${duplicated}, output sets wrong ${badOutputSets}`);
  console.log(
    `ledger sum ${ledger._sum.amountMicros ?? 0n} = charged ${charged} = committed ${key.committedMicros}: ${ledgerOk ? 'consistent' : 'INCONSISTENT'}`,
  );
  console.log(`leftovers after the sweep: ${leftovers.length === 0 ? 'none' : leftovers.join(', ')}`);
  console.log(`outage answers not a 503 with Retry-After: ${badOutageAnswers.length === 0 ? 'none' : badOutageAnswers.slice(0, 10).join('; ')}`);

  const problems: string[] = [];
  if (lost) problems.push(`${lost} lost`);
  if (duplicated) problems.push(`${duplicated} duplicated`);
  if (stuck) problems.push(`${stuck} stuck`);
  if (completed !== TASKS) problems.push(`${completed}/${TASKS} completed`);
  if (badOutputSets) problems.push(`${badOutputSets} wrong output sets`);
  if (!ledgerOk) problems.push('ledger inconsistent');
  if (leftovers.length) problems.push(`${leftovers.length} leftovers`);
  if (badOutageAnswers.length) problems.push(`${badOutageAnswers.length} outage answers not 503 + Retry-After`);
  for (const f of faults)
    if (f.target !== null && (f.seconds === null || f.seconds > f.target))
      problems.push(`${f.fault}: ${f.seconds === null ? 'never' : f.seconds.toFixed(1)} s > ${f.target} s`);
  console.log(problems.length === 0 ? '\nchaos: PASS' : `\nchaos: FAIL: ${problems.join('; ')}`);

  await db.$disconnect();
  await Promise.all([api, ...workers].map(kill9));
  redis!.kill('SIGKILL');
  pgCtl('stop', '-m', 'immediate');
  if (!KEEP) rmSync(work, { recursive: true, force: true });
  process.exit(problems.length === 0 ? 0 : 1);
}

main().catch((err: Error) => {
  console.error(`chaos: ${err.stack ?? err.message}`);
  try {
    pgCtl('stop', '-m', 'immediate');
  } catch {
    /* not running */
  }
  redis?.kill('SIGKILL');
  process.exit(2);
});

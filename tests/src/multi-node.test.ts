import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiKey, createDb, type Db } from '@reelay/db';
import { createStorage, type ObjectStorage } from '@reelay/storage';
import { freePort, http, S3TestServer, spawnApi, spawnWorker, tinyCatalogFile, until, type Spawned } from '@reelay/testing';
import { parseConfig } from '@reelay/config';

/**
 * Two API processes and two worker processes that share only Postgres, Redis and an S3 bucket:
 * each has its own storage folder (scratch space only). 200 tasks are created across both APIs;
 * one worker is killed with SIGKILL mid-run; every task still completes once, every download
 * works from either API, and deletes and the expiry sweep reach the bucket.
 *
 * The preview renderer stands in for the upstream here. It is a machine-local upstream: its
 * render folder (<storage>/../preview-renders) must be visible to every worker that polls its
 * tasks, so the workers' storage folders are siblings and share it, as workers share a remote
 * upstream. Reelay's own storage folders are not shared.
 */
const TASKS = Number(process.env.MULTINODE_TASKS ?? 200);
const TINIEST = { prompt: 'multi-node', model: 'tiny', duration: 0.5, width: 64, height: 64, fps: 10 };

let s3: S3TestServer;
let root: string;
let db: Db;
let key: string;
let bucket: ObjectStorage;
let prefix: string;
const apis: Array<{ proc: Spawned; url: string }> = [];
const workers: Spawned[] = [];

beforeAll(async () => {
  s3 = await S3TestServer.start();
  root = mkdtempSync(join(tmpdir(), 'reelay-multinode-'));
  prefix = `multinode-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const env = {
    ...s3.env({ prefix }),
    DATABASE_URL: process.env.DATABASE_URL!,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REELAY_QUEUE_PREFIX: prefix,
    REELAY_MODELS_FILE: tinyCatalogFile(),
    REELAY_RESULT_TTL_SECONDS: '3600',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  };
  db = createDb(env.DATABASE_URL, 3);
  key = (await createApiKey(db, { name: 'multi-node' })).secret;
  bucket = createStorage(parseConfig({ ...env, REELAY_STORAGE_DIR: join(root, 'test-client') }));
  // All four start at once (tsx start-up is most of a slow machine's wait); each is killed in afterAll.
  const starting = ['api-a', 'api-b'].map(async (name) => {
    const port = await freePort();
    const proc = spawnApi({ ...env, PORT: String(port), REELAY_STORAGE_DIR: join(root, name, 'storage') });
    const api = { proc, url: `http://127.0.0.1:${port}` };
    apis.push(api);
    await until(
      `${name} to answer`,
      () => {
        if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.output()}`);
        return fetch(`${api.url}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
      },
      240_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output().slice(-3000)}`);
    });
  });
  const startingWorkers = ['worker-a', 'worker-b'].map(async (name) => {
    mkdirSync(join(root, 'workers', name), { recursive: true });
    const storage = join(root, 'workers', name); // siblings: <workers>/preview-renders is the shared upstream
    const w = spawnWorker(
      {
        config: {
          DATABASE_URL: env.DATABASE_URL,
          REDIS_URL: env.REDIS_URL,
          REELAY_QUEUE_PREFIX: prefix,
          REELAY_STORAGE_DIR: storage,
          REELAY_MODELS_FILE: env.REELAY_MODELS_FILE,
        },
      },
      // The production lock (10 s): on a loaded machine a 3 s lock lapses under a live worker.
      { ...env, WORKER_RENDER_SLOTS: '4', WORKER_EXPIRY_SWEEP_INTERVAL_MS: '500', WORKER_LOCK_MS: '10000', LOG_LEVEL: 'info' },
    );
    workers.push(w);
    await w.waitFor(/"msg":"worker started"/);
  });
  await Promise.all([...starting, ...startingWorkers]);
  // apis[0] / workers[0] are whichever started first: order does not matter.
}, 300_000);

afterAll(async () => {
  if (process.env.MULTINODE_DEBUG) for (const p of [...workers, ...apis.map((a) => a.proc)]) console.log(p.output().slice(-6000));
  for (const p of [...workers, ...apis.map((a) => a.proc)]) await p.stop('SIGKILL');
  await db?.$disconnect();
  await s3?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keysOf = async (prefix: string) => {
  const keys: string[] = [];
  for await (const o of bucket.list(prefix)) keys.push(o.key);
  return keys;
};
/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

let ids: string[] = [];

test('200 tasks created across two APIs all complete once, with a worker killed mid-run', async () => {
  ids = await inBatches(
    Array.from({ length: TASKS }, (_, i) => i),
    16,
    async (i) => {
      // As a careful client does: an Idempotency-Key, and the same request again if the connection
      // drops, so a retry can never make a second task (checked below: 200 tasks under the key).
      const send = () =>
        http(apis[i % 2]!, 'POST', '/v1/videos', { key, json: { ...TINIEST, prompt: `multi-node ${i}` }, headers: { 'idempotency-key': `multi-node-${i}` } });
      const res = await send()
        .catch(() => send())
        .catch(() => send());
      if (res.status !== 200) throw new Error(`create ${i} answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
  );
  expect(new Set(ids).size).toBe(TASKS);
  expect(await db.task.count({ where: { queuePrefix: prefix, id: { notIn: ids } } })).toBe(0); // no task made twice
  const completedCount = () => db.task.count({ where: { id: { in: ids }, status: 'completed' } });
  // Kill one worker once the run is well under way, with tasks of its in every phase.
  await until('a quarter of the tasks to complete', async () => (await completedCount()) >= TASKS / 4, 120_000, 200);
  const killed = await workers[0]!.stop('SIGKILL');
  expect(killed.signal).toBe('SIGKILL');
  expect(await completedCount()).toBeLessThan(TASKS);

  await until(
    'every task to end',
    async () => (await db.task.count({ where: { id: { in: ids }, status: { in: ['completed', 'failed'] } } })) === TASKS,
    600_000,
    500,
  );
  // Images are stored just after a task shows as completed (a client asking for one meanwhile is
  // held by the content route); a task whose worker was killed in between gets them when its job
  // runs again.
  await until('every task to have its images', async () => (await db.taskOutput.count({ where: { taskId: { in: ids } } })) === TASKS * 3, 120_000, 250);
  const rows = await db.task.findMany({ where: { id: { in: ids } }, include: { outputs: true } });
  expect(rows.filter((t) => t.status !== 'completed').map((t) => `${t.id}: ${t.status} ${t.errorMessage ?? ''}`)).toEqual([]);
  for (const t of rows) expect(t.outputs.map((o) => o.variant).sort()).toEqual(['spritesheet', 'thumbnail', 'video']);
  // Once: one charge per task on the ledger, and exactly its three objects in the bucket.
  const charges = await db.ledgerEntry.groupBy({ by: ['taskId'], where: { taskId: { in: ids }, kind: 'charge' }, _count: true });
  expect(charges.length).toBe(TASKS);
  expect(charges.every((c) => c._count === 1)).toBe(true);
  const objects = await keysOf('videos');
  expect(objects.length).toBe(TASKS * 3);
  expect(new Set(objects.map((k) => k.split('/')[1]))).toEqual(new Set(ids));
  // No Reelay storage folder holds an object: only scratch space.
  for (const dir of [join(root, 'api-a', 'storage'), join(root, 'api-b', 'storage'), join(root, 'workers', 'worker-a'), join(root, 'workers', 'worker-b')]) {
    expect((existsSync(dir) ? readdirSync(dir, { withFileTypes: true }) : []).filter((e) => e.name !== '.tmp').map((e) => e.name)).toEqual([]);
  }
}, 720_000);

test('every video downloads from either API, whole and by range, the bytes its checksum names', async () => {
  const outputs = await db.taskOutput.findMany({ where: { taskId: { in: ids }, variant: 'video' } });
  const checksum = new Map(outputs.map((o) => [o.taskId, o.checksum]));
  await inBatches(ids, 8, async (id, i) => {
    for (const api of [apis[i % 2]!, apis[(i + 1) % 2]!]) {
      const full = await http(api, 'GET', `/v1/videos/${id}/content`, { key });
      expect(full.status).toBe(200);
      expect(sha256(full.bytes)).toBe(checksum.get(id));
    }
    const part = await http(apis[i % 2]!, 'GET', `/v1/videos/${id}/content`, { key, headers: { range: 'bytes=4-11' } });
    expect(part.status).toBe(206);
    expect(part.bytes.toString('latin1')).toBe('ftypisom');
  });
}, 120_000);

test('deletes through either API and the expiry sweep of the surviving worker remove the objects', async () => {
  const deleted = ids.slice(0, 10);
  const expiring = ids.slice(10, 20);
  for (const [i, id] of deleted.entries()) expect((await http(apis[i % 2]!, 'DELETE', `/v1/videos/${id}`, { key })).status).toBe(200);
  for (const id of deleted) expect(await keysOf(`videos/${id}`)).toEqual([]);
  await db.task.updateMany({ where: { id: { in: expiring } }, data: { expiresAt: new Date(Date.now() - 1000) } });
  await until(
    'the sweep to stamp the expired tasks',
    async () => (await db.task.count({ where: { id: { in: expiring }, filesDeletedAt: { not: null } } })) === expiring.length,
    60_000,
    250,
  );
  for (const id of expiring) {
    expect(await keysOf(`videos/${id}`)).toEqual([]);
    expect((await http(apis[1]!, 'GET', `/v1/videos/${id}/content`, { key })).status).toBe(410);
  }
  expect((await keysOf('videos')).length).toBe((TASKS - 20) * 3);
}, 120_000);

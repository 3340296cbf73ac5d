import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVideo, freePort, spawnProcess, tinyCatalogFile, until, waitForVideo, TINY, type Spawned } from '@reelay/testing';

// The production image runs these bundles with plain node: build them as `pnpm run build` does,
// then run the migration step, the CLI, the API and a worker from them and complete a task.
jest.setTimeout(240_000);

const dir = mkdtempSync(join(tmpdir(), 'reelay-compiled-'));
const procs: Spawned[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('the compiled bundles run with plain node: migrate, make a key, serve /healthz, complete a task', async () => {
  const build = spawnProcess(process.execPath, ['infra/scripts/build.mjs']);
  expect((await build.exited()).code).toBe(0);
  expect(build.output()).toMatch(/built apps\/api\/dist\/main\.js, apps\/worker\/dist\/main\.js/);

  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    REELAY_QUEUE_PREFIX: `compiled-${process.pid}`,
    REELAY_STORAGE_DIR: join(dir, 'storage'),
    REELAY_MODELS_FILE: tinyCatalogFile(),
  };
  const migrate = spawnProcess(process.execPath, ['packages/db/dist/migrate.js'], { env });
  expect((await migrate.exited()).code).toBe(0);
  expect(migrate.output()).toMatch(/migration\(s\) applied/);

  const cli = spawnProcess(process.execPath, ['apps/cli/dist/main.js', 'keys', 'create', '--name', 'compiled-build'], { env });
  expect((await cli.exited()).code).toBe(0);
  const key = /^(rly_\S+)$/m.exec(cli.output())![1]!;

  const api = spawnProcess(process.execPath, ['apps/api/dist/main.js'], { env: { ...env, PORT: String(apiPort) } });
  const worker = spawnProcess(process.execPath, ['apps/worker/dist/main.js'], { env: { ...env, WORKER_METRICS_PORT: String(workerPort) } });
  procs.push(api, worker);
  for (const port of [apiPort, workerPort]) {
    await until(
      `/healthz on ${port}`,
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status === 200,
          () => false,
        ),
      60_000,
      100,
    );
  }
  const target = { url: `http://127.0.0.1:${apiPort}` };
  // Files the bundle finds beside itself at run time: the docs page's assets and the OpenAPI document.
  expect((await fetch(`${target.url}/docs/assets/swagger-ui.css`)).status).toBe(200);
  expect(((await (await fetch(`${target.url}/openapi.json`)).json()) as { openapi: string }).openapi).toMatch(/^3\./);

  const created = await createVideo(target, key, TINY);
  const { video } = await waitForVideo(target, key, created.id, 60_000);
  expect(video.status).toBe('completed');
  const content = await fetch(`${target.url}/v1/videos/${created.id}/content`, { headers: { authorization: `Bearer ${key}` } });
  expect(content.status).toBe(200);
  expect(content.headers.get('content-type')).toBe('video/mp4');
});

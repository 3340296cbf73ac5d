import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCatalog } from '@reelay/core';
import { ENV_VARIABLE_OPTIONS, PROVIDER_FACTORIES } from '@reelay/providers';
import { apiKeyVersionKey, createRedis } from '@reelay/queue';

/**
 * The CLI as a user meets it: `node --import tsx apps/cli/src/main.ts …` (what `npm run reelay --`
 * runs) in a child process, against the real Postgres (the test database) and Redis.
 */
const ROOT = resolve(__dirname, '../../..');
const PREFIX = `test-cli-${process.pid}`;
const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'worker');

afterAll(async () => {
  await redis.del(apiKeyVersionKey(PREFIX));
  redis.disconnect();
});

/** Runs the CLI; `env` replaces the whole environment when given. */
function reelay(
  args: string[],
  env: NodeJS.ProcessEnv = { ...process.env, REELAY_QUEUE_PREFIX: PREFIX },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', ...args], { cwd: ROOT, env, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const FLAGS = ['--name', '--models', '--max-concurrent', '--max-queued', '--rate-limit', '--budget-micros', '--dialect', '--webhook-url', '--webhook-secret'];

test('--help on every command and subcommand exits 0 and explains each flag', async () => {
  const commands = [[], ['keys'], ['keys', 'create'], ['keys', 'update'], ['keys', 'revoke'], ['keys', 'list'], ['catalog'], ['catalog', 'check']];
  const helps = await Promise.all(commands.map((c) => reelay([...c, '--help'])));
  helps.forEach((h, i) => {
    expect([commands[i]!.join(' '), h.code, h.stderr]).toEqual([commands[i]!.join(' '), 0, '']);
    expect(h.stdout).toMatch(/^Usage: reelay/);
  });
  const [top, keys, create, update, revoke, , catalog, check] = helps.map((h) => h.stdout);
  expect(top).toMatch(/keys\s+Create, update, revoke and list API keys/);
  expect(top).toMatch(/catalog\s+Work with model catalog files/);
  expect(keys).toContain('DATABASE_URL');
  expect(catalog).toMatch(/check \[FILE\]/);
  for (const help of [create!, update!]) {
    // Every flag is listed with what it does, not just its name.
    for (const flag of FLAGS) expect(help).toMatch(new RegExp(`${flag} <[^>]+>\\s+\\S.{10,}`));
    expect(help).toContain('429 concurrency_limit_exceeded');
    expect(help).toContain('"none" clears a setting');
  }
  expect(create).toMatch(/--name <name>\s+a label for the key \(required\)/);
  expect(update).toMatch(/Usage: reelay keys update \[options\] <KEY_ID>/);
  expect(revoke).toMatch(/its very next request is refused \(401\)/);
  expect(check).toMatch(/Exits 0 when valid, 1\s+when not/);
});

test('unknown commands, unknown flags and missing arguments exit 2 saying what is wrong', async () => {
  const cases: [string[], RegExp][] = [
    [[], /Usage: reelay/],
    [['frobnicate'], /error: unknown command 'frobnicate'/],
    [['keys', 'lst'], /error: unknown command 'lst'\n\(Did you mean list\?\)/],
    [['keys', 'list', '--bogus'], /error: unknown option '--bogus'/],
    [['keys', 'list', 'extra'], /error: too many arguments for 'list'/],
    [['keys', 'create', '--models', 'sora-2'], /error: required option '--name <name>' not specified/],
    [['keys', 'create', '--name'], /error: option '--name <name>' argument missing/],
    [['keys', 'update'], /error: missing required argument 'KEY_ID'/],
    [['keys', 'update', 'key_x', '--max-queued', 'lots'], /reelay: Invalid parameter: max_queued: /],
    [['keys', 'create', '--name', 'x', '--dialect', 'klingon'], /reelay: Invalid parameter: status_dialect: /],
    [['catalog', 'check'], /give a catalog FILE \(or set REELAY_MODELS_FILE\)/],
  ];
  const runs = await Promise.all(cases.map(([args]) => reelay(args, { ...process.env, REELAY_MODELS_FILE: '' })));
  runs.forEach((run, i) => {
    expect([cases[i]![0].join(' '), run.code]).toEqual([cases[i]![0].join(' '), 2]);
    expect(run.stderr).toMatch(cases[i]![1]);
  });
});

test('keys create, then list shows the key; update and revoke change it and tell API processes', async () => {
  const version = async () => Number((await redis.get(apiKeyVersionKey(PREFIX))) ?? 0);
  const name = `cli-test-${process.pid}`;
  const made = await reelay([
    'keys',
    'create',
    '--name',
    name,
    '--models',
    'sora-2,sora-2-pro',
    '--max-concurrent',
    '4',
    '--budget-micros',
    '50000000',
    '--webhook-url',
    'https://shop.example/hooks',
  ]);
  expect([made.code, made.stderr]).toEqual([0, '']);
  const [first, secret, webhook] = made.stdout.trim().split('\n');
  const id = /^created key (key_\w+) \(cli-test-\d+\)\. The secret is shown once; store it now:$/.exec(first!)?.[1];
  expect(id).toBeDefined();
  expect(secret).toMatch(/^rly_\w{20,}$/);
  expect(webhook).toMatch(/^webhook signing secret: whsec_/);

  const listed = await reelay(['keys', 'list']);
  expect(listed.code).toBe(0);
  const line = listed.stdout.split('\n').find((l) => l.startsWith(`${id}\t`));
  expect(line).toContain(
    `${secret!.slice(0, 8)}…\tactive\t${name}\tmodels=sora-2,sora-2-pro max_concurrent=4 max_queued=- rate_limit_per_minute=- budget_micros=50000000`,
  );
  expect(listed.stdout).not.toContain(secret); // never a secret
  // Help, not the list.
  expect((await reelay(['keys', 'list', '--help'])).stdout).not.toContain(id);

  const before = await version();
  const updated = await reelay(['keys', 'update', id!, '--max-concurrent', 'none', '--rate-limit', '7', '--models', 'all']);
  expect(updated.code).toBe(0);
  expect(updated.stdout).toContain('models=all max_concurrent=- max_queued=- rate_limit_per_minute=7 budget_micros=50000000');
  expect(await version()).toBe(before + 1);

  const revoked = await reelay(['keys', 'revoke', id!]);
  expect(revoked.code).toBe(0);
  expect(revoked.stdout).toMatch(new RegExp(`^${id}\\t\\S+\\trevoked\\t${name}\\t`));
  expect(await version()).toBe(before + 2);

  const missing = await reelay(['keys', 'revoke', 'key_doesnotexist']);
  expect([missing.code, missing.stderr.trim()]).toEqual([1, 'reelay: no API key key_doesnotexist']);
});

describe('catalog check', () => {
  const EXAMPLES = join(ROOT, 'examples/catalogs');
  const files = readdirSync(EXAMPLES).filter((f) => /\.jsonc?$/.test(f));
  /** A bare environment: no provider key of the machine running the tests leaks in. */
  const bare = { PATH: process.env.PATH };

  test('examples/catalogs holds one catalog per adapter, and one mixing several', () => {
    const adapters = Object.keys(PROVIDER_FACTORIES);
    expect(files.sort()).toEqual([...adapters.map((a) => `${a}.jsonc`), 'mixed-failover.jsonc'].sort());
    const mixed = parseCatalog(readFileSync(join(EXAMPLES, 'mixed-failover.jsonc'), 'utf8'));
    const used = new Set(mixed.ok ? mixed.catalog.list().flatMap((m) => m.targets.map((t) => t.provider)) : []);
    expect(used.size).toBeGreaterThanOrEqual(3);
  });

  test.each(files)('%s: names its unset credentials, then passes with them set and prints who serves each model', async (file) => {
    const path = join('examples/catalogs', file);
    const text = readFileSync(join(ROOT, path), 'utf8');
    const parsed = parseCatalog(text);
    if (!parsed.ok) throw new Error(`${file}: ${JSON.stringify(parsed.problems)}`);
    const variables = [
      ...new Set(
        parsed.catalog
          .list()
          .flatMap((m) => m.targets.flatMap((t) => [t.credentials, ...ENV_VARIABLE_OPTIONS.map((o) => t.options?.[o] as string | undefined)])),
      ),
    ].filter((v): v is string => !!v);

    const without = await reelay(['catalog', 'check', path], bare);
    if (variables.length) {
      expect(without.code).toBe(1);
      expect(without.stderr).toContain(`missing environment variables: ${[...variables].sort().join(', ')}`);
    } else {
      expect(without.code).toBe(0);
    }

    const dummies = Object.fromEntries(variables.map((v) => [v, `dummy-${v.toLowerCase()}`]));
    const withKeys = await reelay(['catalog', 'check', path], { ...bare, ...dummies });
    expect([withKeys.code, withKeys.stderr]).toEqual([0, '']);
    expect(withKeys.stdout).toContain(`${path}: valid`);
    for (const model of parsed.catalog.list()) {
      expect(withKeys.stdout).toMatch(new RegExp(`^${model.id}( \\(default model\\))?$`, 'm'));
      for (const t of model.targets)
        expect(withKeys.stdout).toContain(`. ${t.provider}: ${t.provider === 'preview' ? 'built-in' : (t.upstreamModel ?? '(no upstreamModel)')}`);
    }
    expect(withKeys.stdout).not.toContain('dummy-'); // names of variables, never their values
  });

  test('a broken copy fails with exit 1 naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reelay-catalog-'));
    const source = readFileSync(join(EXAMPLES, 'mixed-failover.jsonc'), 'utf8');
    const env = { ...bare, OPENAI_API_KEY: 'a', OPENAI_API_KEY_2: 'b', GATEWAY_KEY: 'c', GEMINI_API_KEY: 'd', FAL_KEY: 'e' };
    copyFileSync(join(EXAMPLES, 'mixed-failover.jsonc'), join(dir, 'intact.jsonc'));
    expect((await reelay(['catalog', 'check', join(dir, 'intact.jsonc')], env)).code).toBe(0);

    const broken = (name: string, from: string, to: string) => {
      expect(source).toContain(from);
      writeFileSync(join(dir, name), source.replace(from, to));
      return reelay(['catalog', 'check', join(dir, name)], env);
    };
    const [misspelt, adapter, badValue] = await Promise.all([
      broken('misspelt.jsonc', '"upstreamModel": "fal-ai/veo3"', '"upstreamModle": "fal-ai/veo3"'),
      broken('adapter.jsonc', '"provider": "gemini-veo"', '"provider": "gemini"'),
      broken('value.jsonc', '"dialect": "seed"', '"dialect": "sead"'),
    ]);
    expect(misspelt.code).toBe(1);
    expect(misspelt.stderr).toContain('models[1].targets[1].upstreamModle: unknown field');
    expect(adapter.code).toBe(1);
    expect(adapter.stderr).toContain(`models[1].targets[0].provider: unknown adapter "gemini" (known: ${Object.keys(PROVIDER_FACTORIES).join(', ')})`);
    expect(badValue.code).toBe(1);
    expect(badValue.stderr).toMatch(/models\[0\]\.targets\[2\]: openai-compatible options: .*"openai"\|"seed"/);
  });
});

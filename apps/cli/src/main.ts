import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type Config } from '@reelay/config';
import { ApiError, formatProblem, ModelCatalog, parseKeySettings, type KeySettings } from '@reelay/core';
import type { ApiKey } from '@reelay/db';
import type { CatalogCheck } from '@reelay/providers';
import { addApiCommands } from './api-commands';

/**
 * The `reelay` command line: API keys (straight in Postgres, like the admin API) and catalog
 * checks. Exit codes: 0 done, 1 failed (unknown key, invalid catalog, unreachable database),
 * 2 the command line itself is wrong (unknown command or flag, bad value). Each command loads
 * only the packages it uses, so help and catalog checks start fast and need no database.
 */

const limit = (v: string) => (v === 'none' ? null : Number(v));
const orNone = (v: string) => (v === 'none' ? null : v);

/** Each key setting's flag, the settings field it fills, and how its text becomes a value. */
const SETTINGS: { flag: string; field: keyof KeySettings; parse: (v: string) => unknown; help: string }[] = [
  { flag: '--name <name>', field: 'name', parse: (v) => v, help: 'a label for the key' },
  {
    flag: '--models <list|all>',
    field: 'allowed_models',
    parse: (v) => (v === 'all' || v === '' ? [] : v.split(',').map((m) => m.trim())),
    help: 'models the key may use, comma-separated (e.g. sora-2,sora-2-pro); "all" allows every model',
  },
  {
    flag: '--max-concurrent <n|none>',
    field: 'max_concurrent',
    parse: limit,
    help: "the key's tasks running at once; more wait in pending until a slot frees",
  },
  {
    flag: '--max-queued <n|none>',
    field: 'max_queued',
    parse: limit,
    help: "the key's tasks waiting in pending; one more is refused (429 concurrency_limit_exceeded)",
  },
  {
    flag: '--rate-limit <n|none>',
    field: 'rate_limit_per_minute',
    parse: limit,
    help: 'requests per minute over all API processes; more are refused (429 rate_limit_exceeded)',
  },
  {
    flag: '--budget-micros <n|none>',
    field: 'budget_micros',
    parse: limit,
    help: 'spending cap in micro-units (1000000 = 1 unit of your currency); a create whose estimate does not fit is refused (429 insufficient_quota)',
  },
  {
    flag: '--dialect <seed|openai|none>',
    field: 'status_dialect',
    parse: orNone,
    help: 'status words for this key: seed (pending, processing) or openai (queued, in_progress); none: the server default',
  },
  {
    flag: '--webhook-url <url|none>',
    field: 'webhook_url',
    parse: orNone,
    help: "http(s) URL that receives this key's task webhooks; a signing secret is made (and shown once) if you give none",
  },
  { flag: '--webhook-secret <secret|none>', field: 'webhook_secret', parse: orNone, help: "the webhooks' signing secret, 16 to 256 characters" },
];

const SETTINGS_NOTE = `
"none" clears a setting (no limit). Values are checked like the admin API's:
a bad one exits 2 naming the setting.`;

const DB_ENV = `
Environment: DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/reelay),
REELAY_MODELS_FILE (models --models may name; default: the built-in catalog), and for
update/revoke REDIS_URL and REELAY_QUEUE_PREFIX (to tell running API processes to re-read keys).`;

function addSettings(cmd: Command, opts: { nameRequired: boolean }): Command {
  for (const s of SETTINGS) {
    const option = new Option(s.flag, s.field === 'name' && opts.nameRequired ? `${s.help} (required)` : s.help);
    if (s.field === 'name' && opts.nameRequired) option.makeOptionMandatory();
    cmd.addOption(option);
  }
  return cmd.addHelpText('after', SETTINGS_NOTE);
}

/** The settings given on the command line, validated against the deployment's models. */
function settingsFrom(values: Record<string, string | undefined>, config: Config, requireName: boolean): KeySettings {
  const raw: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const value = values[new Option(s.flag).attributeName()];
    if (value !== undefined) raw[s.field] = s.parse(value);
  }
  const knownModels = ModelCatalog.load(config.REELAY_MODELS_FILE)
    .list()
    .map((m) => m.id);
  return parseKeySettings(raw, { requireName, knownModels });
}

type Db = typeof import('@reelay/db');

function show(presentApiKey: Db['presentApiKey'], k: ApiKey): string {
  const v = presentApiKey(k);
  const limits = ['max_concurrent', 'max_queued', 'rate_limit_per_minute', 'budget_micros'].map((f) => `${f}=${v[f] ?? '-'}`).join(' ');
  const models = k.allowedModels.length ? k.allowedModels.join(',') : 'all';
  return `${k.id}\t${k.keyPrefix}…\t${k.status}\t${k.name}\tmodels=${models} ${limits} committed_micros=${v.committed_micros}\t${k.createdAt.toISOString()}`;
}

/** API processes that cache keys re-read them on their next request once this counter moves. */
async function tellApiProcesses(config: Config): Promise<void> {
  const { createRedis, invalidateApiKeyCache } = await import('@reelay/queue');
  const redis = createRedis(config.REDIS_URL, 'api');
  try {
    await new Promise((resolve, reject) => {
      redis.once('ready', resolve);
      setTimeout(() => reject(new Error('no answer in 3 s')), 3000).unref();
    });
    await invalidateApiKeyCache(redis, config.REELAY_QUEUE_PREFIX);
  } catch (err) {
    console.error(`reelay: warning: could not reach Redis (${(err as Error).message}); API processes see the change once their key cache expires`);
  } finally {
    redis.disconnect();
  }
}

/** Runs `work` on a database connection made from the environment, closing it afterwards. */
async function withDb<T>(work: (db: ReturnType<Db['createDb']>, config: Config, lib: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const lib = await import('@reelay/db');
  const db = lib.createDb(config.DATABASE_URL, 2);
  try {
    return await work(db, config, lib);
  } finally {
    await db.$disconnect();
  }
}

/** The upstreams each model is sent to, in the order its tasks try them. */
function describeRoutes(check: CatalogCheck): string[] {
  const lines: string[] = [];
  for (const model of check.models) {
    lines.push(`${model.id}${model.isDefault ? ' (default model)' : ''}`);
    for (const { rank, target, url } of model.routes) {
      const shared = model.routes.filter((r) => r.rank === rank).length > 1 ? ', sharing load round-robin with the others ranked ' + rank : '';
      const where =
        target.provider === 'preview'
          ? 'built-in ffmpeg renderer, no upstream'
          : `${target.upstreamModel ?? '(no upstreamModel)'} at ${url ?? '(no URL)'}, ${target.credentials ? `key from ${target.credentials}` : 'no key'}`;
      lines.push(`  ${rank}. ${target.provider}: ${where}${shared}`);
    }
  }
  return lines;
}

async function catalogCheck(file: string | undefined): Promise<number> {
  const path = file ?? process.env.REELAY_MODELS_FILE;
  if (!path) throw new CommanderError(2, 'reelay.usage', 'error: give a catalog FILE (or set REELAY_MODELS_FILE)');
  const { checkCatalogFile } = await import('@reelay/providers');
  const check = checkCatalogFile(path);
  if (check.models.length) {
    console.log(`${path}: which upstream serves each model, in the order a task tries them`);
    for (const line of describeRoutes(check)) console.log(line);
  }
  if (check.problems.length === 0) {
    console.log(`${path}: valid`);
    return 0;
  }
  console.error(`${path}: ${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}`);
  for (const p of check.problems) console.error(`  ${formatProblem(p)}`);
  if (check.missingEnv.length) console.error(`missing environment variables: ${check.missingEnv.join(', ')}`);
  return 1;
}

function program(): Command {
  const reelay = new Command('reelay')
    .description('Manage a Reelay deployment (API keys, model catalogs) and use its API (videos, batches).')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError();

  const keys = reelay.command('keys').description('Create, update, revoke and list API keys (straight in Postgres)').addHelpText('after', DB_ENV);

  addSettings(keys.command('create').description('Create a key; its secret is printed once, store it then'), { nameRequired: true }).action(
    (values: Record<string, string | undefined>) =>
      withDb(async (db, config, { createApiKey }) => {
        const settings = settingsFrom(values, config, true);
        const { key, secret } = await createApiKey(db, { ...settings, name: settings.name! });
        console.log(`created key ${key.id} (${key.name}). The secret is shown once; store it now:`);
        console.log(secret);
        if (key.webhookSecret && !settings.webhook_secret) console.log(`webhook signing secret: ${key.webhookSecret}`);
      }),
  );

  addSettings(keys.command('update').description("Change a key's settings; only the flags given change").argument('<KEY_ID>', 'the key, e.g. key_…'), {
    nameRequired: false,
  }).action((id: string, values: Record<string, string | undefined>) =>
    withDb(async (db, config, { updateApiKey, presentApiKey }) => {
      const key = await updateApiKey(db, id, settingsFrom(values, config, false));
      if (!key) return notFound(id);
      console.log(show(presentApiKey, key));
      await tellApiProcesses(config);
    }),
  );

  keys
    .command('revoke')
    .description('Revoke a key: its very next request is refused (401); tasks it started run to their end')
    .argument('<KEY_ID>', 'the key, e.g. key_…')
    .action((id: string) =>
      withDb(async (db, config, { revokeApiKey, presentApiKey }) => {
        const key = await revokeApiKey(db, id);
        if (!key) return notFound(id);
        console.log(show(presentApiKey, key));
        await tellApiProcesses(config);
      }),
    );

  keys
    .command('list')
    .description('List every key, one a line: id, prefix, status, name, models and limits, creation time (never a secret)')
    .action(() =>
      withDb(async (db, _config, { listApiKeys, presentApiKey }) => {
        for (const k of await listApiKeys(db)) console.log(show(presentApiKey, k));
      }),
    );

  addApiCommands(reelay);

  const catalog = reelay.command('catalog').description('Work with model catalog files (REELAY_MODELS_FILE)');
  catalog
    .command('check')
    .description(
      "Validate a catalog as a worker would at start: schema (each problem named by its field path), every target's adapter known, every `credentials` variable set in this environment. Prints which upstream serves each model. Exits 0 when valid, 1 when not. Calls no upstream.",
    )
    .argument('[FILE]', 'the catalog (JSON, comments allowed); default: $REELAY_MODELS_FILE')
    .action(async (file: string | undefined) => {
      process.exitCode = await catalogCheck(file);
    });

  return reelay;
}

function notFound(id: string): void {
  console.error(`reelay: no API key ${id}`);
  process.exitCode = 1;
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (help, or what is wrong) already, except for ours.
      if (err.code === 'reelay.usage') console.error(err.message);
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ApiError) {
      console.error(`reelay: ${err.message} (add --help for usage)`);
      return 2;
    }
    throw err;
  }
}

// Writes to a pipe are asynchronous: exit only once stdout and stderr have drained, or a long
// `keys list | grep …` loses its tail.
const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
main(process.argv.slice(2)).then(exit, (err: Error) => {
  console.error(`reelay: ${err.message}`);
  exit(1);
});

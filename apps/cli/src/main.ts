import { loadConfig } from '@reelay/config';
import { ApiError, ModelCatalog, parseKeySettings } from '@reelay/core';
import { createApiKey, createDb, listApiKeys, presentApiKey, revokeApiKey, updateApiKey, type ApiKey } from '@reelay/db';
import { createRedis, invalidateApiKeyCache } from '@reelay/queue';

const SETTINGS = `[--models a,b|all] [--max-concurrent N|none] [--max-queued N|none] [--rate-limit N|none]
           [--budget-micros N|none] [--dialect seed|openai|none] [--webhook-url URL|none] [--webhook-secret S|none]`;
const USAGE = `usage: pnpm reelay keys create --name NAME ${SETTINGS}
       pnpm reelay keys update KEY_ID [--name NAME] ${SETTINGS}
       pnpm reelay keys revoke KEY_ID
       pnpm reelay keys list`;

/** Flag name → settings field, and how its text becomes a value ("none" clears a setting). */
const FLAGS: Record<string, [string, (v: string) => unknown]> = {
  name: ['name', (v) => v],
  models: ['allowed_models', (v) => (v === 'all' || v === '' ? [] : v.split(',').map((m) => m.trim()))],
  'max-concurrent': ['max_concurrent', (v) => (v === 'none' ? null : Number(v))],
  'max-queued': ['max_queued', (v) => (v === 'none' ? null : Number(v))],
  'rate-limit': ['rate_limit_per_minute', (v) => (v === 'none' ? null : Number(v))],
  'budget-micros': ['budget_micros', (v) => (v === 'none' ? null : Number(v))],
  dialect: ['status_dialect', (v) => (v === 'none' ? null : v)],
  'webhook-url': ['webhook_url', (v) => (v === 'none' ? null : v)],
  'webhook-secret': ['webhook_secret', (v) => (v === 'none' ? null : v)],
};

class UsageError extends Error {}

/** API processes that cache keys re-read them on their next request once this counter moves. */
async function tellApiProcesses(config: ReturnType<typeof loadConfig>): Promise<void> {
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

function parseFlags(args: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]!;
    const spec = flag.startsWith('--') ? FLAGS[flag.slice(2)] : undefined;
    if (!spec) throw new UsageError(`unknown option ${flag}`);
    const value = args[i + 1];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    out[spec[0]] = spec[1](value);
  }
  return out;
}

function show(k: ApiKey): string {
  const v = presentApiKey(k);
  const limits = ['max_concurrent', 'max_queued', 'rate_limit_per_minute', 'budget_micros']
    .map((f) => `${f}=${v[f] ?? '-'}`)
    .join(' ');
  const models = k.allowedModels.length ? k.allowedModels.join(',') : 'all';
  return `${k.id}\t${k.keyPrefix}…\t${k.status}\t${k.name}\tmodels=${models} ${limits} committed_micros=${v.committed_micros}\t${k.createdAt.toISOString()}`;
}

async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group !== 'keys' || !command) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const knownModels = ModelCatalog.load(config.REELAY_MODELS_FILE)
    .list()
    .map((m) => m.id);
  const db = createDb(config.DATABASE_URL, 2);
  try {
    if (command === 'create') {
      const settings = parseKeySettings(parseFlags(rest), { requireName: true, knownModels });
      const { key, secret } = await createApiKey(db, { ...settings, name: settings.name! });
      console.log(`created key ${key.id} (${key.name}). The secret is shown once; store it now:`);
      console.log(secret);
      if (key.webhookSecret && !settings.webhook_secret) console.log(`webhook signing secret: ${key.webhookSecret}`);
      return 0;
    }
    if (command === 'update' || command === 'revoke') {
      const [id, ...flags] = rest;
      if (!id || id.startsWith('--')) throw new UsageError(`${command} needs a KEY_ID`);
      const key =
        command === 'revoke'
          ? await revokeApiKey(db, id)
          : await updateApiKey(db, id, parseKeySettings(parseFlags(flags), { requireName: false, knownModels }));
      if (!key) {
        console.error(`reelay: no API key ${id}`);
        return 1;
      }
      console.log(show(key));
      await tellApiProcesses(config);
      return 0;
    }
    if (command === 'list') {
      for (const k of await listApiKeys(db)) console.log(show(k));
      return 0;
    }
    throw new UsageError(`unknown command ${command}`);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ApiError) {
      console.error(`reelay: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    await db.$disconnect();
  }
}

// Writes to a pipe are asynchronous: exit only once stdout and stderr have drained, or a long
// `keys list | grep …` loses its tail.
const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
main(process.argv.slice(2)).then(exit, (err: Error) => {
  console.error(`reelay: ${err.message}`);
  exit(1);
});

import { loadConfig } from '@reelay/config';
import { createApiKey, createDb } from '@reelay/db';

const USAGE = `usage: pnpm reelay keys create --name NAME [--dialect seed|openai]
       pnpm reelay keys list`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (group !== 'keys' || !command) {
    console.error(USAGE);
    return 2;
  }
  const db = createDb(loadConfig().DATABASE_URL, 2);
  try {
    if (command === 'create') {
      const name = flag(rest, 'name');
      const dialect = flag(rest, 'dialect');
      if (!name || (dialect && dialect !== 'seed' && dialect !== 'openai')) {
        console.error(USAGE);
        return 2;
      }
      const { key, secret } = await createApiKey(db, { name, statusDialect: (dialect as 'seed' | 'openai' | undefined) ?? null });
      console.log(`created key ${key.id} (${key.name}). The secret is shown once; store it now:`);
      console.log(secret);
      return 0;
    }
    if (command === 'list') {
      const keys = await db.apiKey.findMany({ orderBy: { createdAt: 'asc' } });
      for (const k of keys) console.log(`${k.id}\t${k.keyPrefix}…\t${k.status}\t${k.name}\t${k.createdAt.toISOString()}`);
      return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await db.$disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`reelay: ${err.message}`);
    process.exit(1);
  },
);

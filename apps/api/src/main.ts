import { loadConfig } from '@reelay/config';
import { startApi } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const api = await startApi(config);
  console.log(`reelay api: listening on ${api.url}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`reelay api: ${signal}, draining`);
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  console.error(`reelay api: ${err.message}`);
  process.exit(1);
});

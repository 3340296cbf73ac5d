import { loadConfig } from '@reelay/config';
import { startWorker } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = await startWorker(config);
  console.log(`reelay worker: consuming queue prefix "${config.REELAY_QUEUE_PREFIX}", concurrency ${config.WORKER_CONCURRENCY}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`reelay worker: ${signal}, finishing held jobs`);
    runtime.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  console.error(`reelay worker: ${err.message}`);
  process.exit(1);
});

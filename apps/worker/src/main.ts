import { loadConfig } from '@reelay/config';
import { createLogger } from '@reelay/observability';
import { startWorker } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'reelay-worker', level: config.LOG_LEVEL });
  const runtime = await startWorker(config, { logger });
  logger.info({ prefix: config.REELAY_QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY, ops: runtime.opsUrl }, 'worker started');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.SHUTDOWN_GRACE_MS }, 'finishing held jobs');
    // Past the grace period, exit anyway: jobs still held are released when their lock expires
    // and another worker takes them over (a step is safe to run twice).
    setTimeout(() => {
      logger.warn('grace period over, exiting with jobs still held');
      logger.flush();
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS).unref();
    runtime.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`reelay worker: ${err.message}\n`);
  process.exit(1);
});

import { loadConfig } from '@reelay/config';
import { createLogger, stopOnSignals } from '@reelay/observability';
import { startWorker } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'reelay-worker', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const runtime = await startWorker(config, { logger });
  logger.info({ prefix: config.REELAY_QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY, ops: runtime.opsUrl }, 'worker started');
  stopOnSignals({
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    stoppingMessage: 'finishing held jobs',
    close: () => runtime.close(),
    // Past the grace period, exit anyway: jobs still held are released when their lock expires
    // and another worker takes them over (a step is safe to run twice).
    onGraceOver: () => {
      logger.warn('grace period over, exiting with jobs still held');
      logger.flush();
      process.exit(1);
    },
  });
}

main().catch((err: Error) => {
  process.stderr.write(`reelay worker: ${err.message}\n`);
  process.exit(1);
});

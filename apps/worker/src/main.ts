import { loadConfig } from '@reelay/config';
import { createLogger, exitFatally, exitOnFatalErrors, flushLogsSync, stopOnSignals, type Logger } from '@reelay/observability';
import { startWorker } from './runtime';

let logger: Logger | undefined;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ name: 'reelay-worker', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  logger = log;
  exitOnFatalErrors(log);
  const runtime = await startWorker(config, { logger: log });
  log.info({ prefix: config.REELAY_QUEUE_PREFIX, concurrency: config.WORKER_CONCURRENCY, ops: runtime.opsUrl }, 'worker started');
  stopOnSignals({
    logger: log,
    graceMs: config.SHUTDOWN_GRACE_MS,
    stoppingMessage: 'finishing held jobs',
    close: () => runtime.close(),
    // Past the grace period, exit anyway: jobs still held are released when their lock expires
    // and another worker takes them over (a step is safe to run twice).
    onGraceOver: () => {
      log.warn('grace period over, exiting with jobs still held');
      flushLogsSync(log);
      process.exit(1);
    },
  });
}

main().catch((err: Error) => {
  // A failed start (bad config, unreachable database) is said on stderr; the log gets it too.
  process.stderr.write(`reelay worker: ${err.message}\n`);
  if (logger) exitFatally(logger, err, 'start failed');
  process.exit(1);
});

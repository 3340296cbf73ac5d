import { loadConfig } from '@reelay/config';
import { createLogger, exitFatally, exitOnFatalErrors, stopOnSignals, type Logger } from '@reelay/observability';
import { startApi } from './runtime';

let logger: Logger | undefined;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ name: 'reelay-api', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  logger = log;
  exitOnFatalErrors(log);
  const api = await startApi(config, { logger: log });
  log.info({ url: api.url }, 'api listening');
  stopOnSignals({
    logger: log,
    graceMs: config.SHUTDOWN_GRACE_MS,
    stoppingMessage: 'draining in-flight requests',
    close: () => api.close(),
    onGraceOver: () => {
      log.warn('grace period over, closing remaining connections');
      api.server.closeAllConnections();
    },
  });
}

main().catch((err: Error) => {
  // A failed start (bad config, unreachable database) is said on stderr; the log gets it too.
  process.stderr.write(`reelay api: ${err.message}\n`);
  if (logger) exitFatally(logger, err, 'start failed');
  process.exit(1);
});

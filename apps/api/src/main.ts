import { loadConfig } from '@reelay/config';
import { createLogger, stopOnSignals } from '@reelay/observability';
import { startApi } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'reelay-api', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  const api = await startApi(config, { logger });
  logger.info({ url: api.url }, 'api listening');
  stopOnSignals({
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    stoppingMessage: 'draining in-flight requests',
    close: () => api.close(),
    onGraceOver: () => {
      logger.warn('grace period over, closing remaining connections');
      api.server.closeAllConnections();
    },
  });
}

main().catch((err: Error) => {
  process.stderr.write(`reelay api: ${err.message}\n`);
  process.exit(1);
});

import { loadConfig } from '@reelay/config';
import { createLogger } from '@reelay/observability';
import { startApi } from './runtime';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'reelay-api', level: config.LOG_LEVEL });
  const api = await startApi(config, { logger });
  logger.info({ url: api.url }, 'api listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.SHUTDOWN_GRACE_MS }, 'draining in-flight requests');
    setTimeout(() => {
      logger.warn('grace period over, closing remaining connections');
      api.server.closeAllConnections();
    }, config.SHUTDOWN_GRACE_MS).unref();
    api.close().then(
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
  process.stderr.write(`reelay api: ${err.message}\n`);
  process.exit(1);
});

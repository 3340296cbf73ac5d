import { flushLogsSync } from './fatal';
import type { Logger } from './logger';

export interface ShutdownOptions {
  logger: Logger;
  graceMs: number;
  /** What the process is doing while it stops, for the log line. */
  stoppingMessage: string;
  /** Stops the process's work in order (HTTP → workers → Redis → Prisma). */
  close: () => Promise<void>;
  /** Runs once the grace period is over and close() has not finished. */
  onGraceOver: () => void;
}

/** On SIGTERM or SIGINT: close once, within the grace period, then exit 0 (1 if closing failed). */
export function stopOnSignals(opts: ShutdownOptions): void {
  const { logger } = opts;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: opts.graceMs }, opts.stoppingMessage);
    setTimeout(opts.onGraceOver, opts.graceMs).unref();
    opts.close().then(
      () => {
        logger.info('stopped');
        flushLogsSync(logger);
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err }, 'shutdown failed');
        flushLogsSync(logger);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

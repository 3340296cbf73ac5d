import pino from 'pino';
import type { Logger } from './logger';

/**
 * Writes out whatever the logger still buffers, synchronously. The JSON logger writes through an
 * asynchronous stream, so lines logged just before process.exit() would otherwise be lost.
 */
export function flushLogsSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // The stream is not ready yet (nothing was written) or is already closed: nothing to flush.
  }
}

/** Logs `err` as fatal, flushes every buffered line, and exits 1. */
export function exitFatally(logger: Logger, err: unknown, msg: string): never {
  logger.fatal({ err }, msg);
  flushLogsSync(logger);
  process.exit(1);
}

/**
 * An uncaught exception or unhandled rejection ends the process (Node's default) but first logs
 * it with the lines before it, so a crash leaves its story in the log.
 */
export function exitOnFatalErrors(logger: Logger): void {
  process.on('uncaughtException', (err) => exitFatally(logger, err, 'uncaught exception: exiting'));
  process.on('unhandledRejection', (err) => exitFatally(logger, err, 'unhandled rejection: exiting'));
}

import { queueEvents, type Logger } from '@reelay/observability';

/** How often the same queue's repeated errors (a Redis outage: one per reconnect) are logged. */
const ERROR_LOG_EVERY_MS = 10_000;

/**
 * The `error` listener every queue and worker gets: each error is counted; the first is logged
 * and repeats of it within ERROR_LOG_EVERY_MS are folded into the next line's `repeated` count,
 * so an outage leaves a readable trail instead of a line per reconnect attempt. Without a
 * listener an `error` event would crash the process.
 */
export function errorListener(queue: string, role: 'queue' | 'worker', logger: Logger | undefined): (err: Error) => void {
  let lastLogged = 0;
  let lastMessage = '';
  let repeated = 0;
  return (err: Error) => {
    queueEvents.inc({ queue, event: 'error' });
    const now = Date.now();
    if (err.message === lastMessage && now - lastLogged < ERROR_LOG_EVERY_MS) {
      repeated++;
      return;
    }
    logger?.error({ err, queue, repeated: repeated || undefined }, `${role} error on queue ${queue}`);
    lastLogged = now;
    lastMessage = err.message;
    repeated = 0;
  };
}

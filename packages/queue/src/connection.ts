import IORedis, { type Redis } from 'ioredis';

export type { Redis };

/**
 * API connections fail fast when Redis is down (no offline queue, few retries) so requests get a
 * quick 503; worker connections wait forever (BullMQ requires maxRetriesPerRequest: null).
 */
export function createRedis(url: string, role: 'api' | 'worker'): Redis {
  const conn =
    role === 'api'
      ? new IORedis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 })
      : new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
  conn.on('error', () => undefined); // reported by health checks; an unhandled 'error' would crash the process
  return conn;
}

import DataLoader from 'dataloader';
import { admissionChannel, withTimeout } from '@reelay/queue';
import type { Redis } from 'ioredis';
import type { ApiDeps } from '../deps';

// The creates of one event-loop turn share one PUBLISH (the admission step reads the table, not the
// message), so a burst of creates costs Redis one round trip instead of one each.
const ANNOUNCE_TIMEOUT_MS = 2000;
const announcers = new WeakMap<Redis, DataLoader<string, void>>();

/**
 * Tells the workers' admission step that a task is waiting. Fails when Redis does not answer within
 * two seconds (so a client gets a 503 then, not a hang): the queue is then unusable, and the caller
 * takes the create back rather than accept work it cannot run.
 */
export async function announceCreatedTask(deps: ApiDeps): Promise<void> {
  let announcer = announcers.get(deps.redis);
  if (!announcer) {
    const redis = deps.redis;
    announcer = new DataLoader<string, void>(
      async (prefixes) => {
        const channels = new Set(prefixes.map(admissionChannel));
        await withTimeout(Promise.all([...channels].map((channel) => redis.publish(channel, '1'))), ANNOUNCE_TIMEOUT_MS, 'announce');
        return prefixes.map(() => undefined);
      },
      { cache: false, batchScheduleFn: (run) => setImmediate(run) },
    );
    announcers.set(deps.redis, announcer);
  }
  await announcer.load(deps.config.REELAY_QUEUE_PREFIX);
}

import { admissionChannel } from '@reelay/queue';
import type { ApiDeps } from '../deps';

/**
 * Tells the workers' admission step that a task is waiting. Best effort: if Redis does not
 * answer, the admission timer picks the task up.
 */
export async function announceCreatedTask(deps: ApiDeps): Promise<void> {
  await deps.redis.publish(admissionChannel(deps.config.REELAY_QUEUE_PREFIX), '1').catch(() => undefined);
}

import { admissionChannel } from '@reelay/queue';
import type { ApiDeps } from '../deps';

/**
 * Tells the workers' admission step that a task is waiting. Fails when Redis does not answer:
 * the queue is then unusable, and the caller takes the create back rather than accept work it
 * cannot run.
 */
export async function announceCreatedTask(deps: ApiDeps): Promise<void> {
  await deps.redis.publish(admissionChannel(deps.config.REELAY_QUEUE_PREFIX), '1');
}

import type { Queue } from 'bullmq';

/** Rejects after `ms` so a caller never waits on a Redis that is down (BullMQ waits for a connection). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface QueueStats {
  queue: string;
  counts: Record<string, number>;
  /** Seconds the oldest waiting job has waited; 0 when nothing waits. */
  oldestWaitingAgeSeconds: number;
}

/** Depth by state and age of the oldest waiting job, for metrics. */
export async function readQueueStats(queue: Queue): Promise<QueueStats> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  const oldestWaitingAgeSeconds = oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0;
  return { queue: queue.name, counts, oldestWaitingAgeSeconds };
}

import { Router } from 'express';
import { checkReadiness, dependencyUp, oldestWaitingTaskAge, queueDepth, queueOldestWaitingAge, registry, tasksByPhase } from '@reelay/observability';
import { hasLiveTasksWithJobs, liveTaskGauges, pingDatabase } from '@reelay/db';
import { isRecovering, readQueueStats, RECOVERING_REASON, withTimeout } from '@reelay/queue';
import type { ApiDeps } from '../deps';

/**
 * /healthz (the process answers), /readyz (Postgres and Redis answer, and no live task is waiting
 * for its job after Redis lost its data: 503 `recovering` meanwhile), /metrics (Prometheus).
 */
export function opsRouter(deps: ApiDeps): Router {
  const router = Router();
  const timeoutMs = deps.config.READINESS_TIMEOUT_MS;

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const report = await checkReadiness({ postgres: () => pingDatabase(deps.db), redis: () => deps.redis.ping() }, timeoutMs);
    if (!report.ready) return void res.status(503).json({ status: 'unavailable', checks: report.checks });
    const prefix = deps.config.REELAY_QUEUE_PREFIX;
    try {
      const recovering = await withTimeout(
        isRecovering(deps.redis, prefix, () => hasLiveTasksWithJobs(deps.db, prefix)),
        timeoutMs,
        'recovery check',
      );
      if (recovering) return void res.status(503).json({ status: 'recovering', checks: report.checks, recovery: { reason: RECOVERING_REASON } });
    } catch (err) {
      return void res.status(503).json({ status: 'unavailable', checks: { ...report.checks, recovery: (err as Error).message } });
    }
    res.json({ status: 'ok', checks: report.checks });
  });

  router.get('/metrics', async (_req, res) => {
    // Queue depths are read from Redis at scrape time; with Redis down the rest still answers.
    await Promise.all(
      deps.queues.map(async (queue) => {
        try {
          const stats = await withTimeout(readQueueStats(queue), timeoutMs, 'queue stats');
          for (const [state, n] of Object.entries(stats.counts)) queueDepth.set({ queue: queue.name, state }, n);
          queueOldestWaitingAge.set({ queue: queue.name }, stats.oldestWaitingAgeSeconds);
        } catch {
          queueDepth.remove({ queue: queue.name });
        }
      }),
    );
    // Tasks per phase (waiting for a slot included) come from Postgres: a waiting task has no job to count.
    try {
      const live = await withTimeout(liveTaskGauges(deps.db), timeoutMs, 'task gauges');
      tasksByPhase.reset();
      for (const c of live.counts) tasksByPhase.set({ phase: c.phase, model: c.model }, c.n);
      oldestWaitingTaskAge.set(live.oldestWaitingSeconds);
      dependencyUp.set({ dependency: 'postgres' }, 1);
    } catch {
      tasksByPhase.reset();
      dependencyUp.set({ dependency: 'postgres' }, 0);
    }
    dependencyUp.set({ dependency: 'redis' }, deps.redis.status === 'ready' ? 1 : 0);
    res.setHeader('content-type', registry.contentType);
    res.send(await registry.metrics());
  });
  return router;
}

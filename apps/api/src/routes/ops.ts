import { Router } from 'express';
import { checkReadiness, queueDepth, queueOldestWaitingAge, registry } from '@reelay/observability';
import { readQueueStats, withTimeout } from '@reelay/queue';
import { pingDatabase } from '@reelay/db';
import type { ApiDeps } from '../deps';

/** /healthz (the process answers), /readyz (Postgres and Redis answer), /metrics (Prometheus). */
export function opsRouter(deps: ApiDeps): Router {
  const router = Router();
  const timeoutMs = deps.config.READINESS_TIMEOUT_MS;

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const report = await checkReadiness({ postgres: () => pingDatabase(deps.db), redis: () => deps.redis.ping() }, timeoutMs);
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ok' : 'unavailable', checks: report.checks });
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
    res.setHeader('content-type', registry.contentType);
    res.send(await registry.metrics());
  });
  return router;
}

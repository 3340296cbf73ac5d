import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per process, with every Reelay metric defined once. The API and the worker each
 * serve it on their own /metrics; Prometheus adds the instance label.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'reelay_process_' });

export const httpRequestDuration = new Histogram({
  name: 'reelay_http_request_duration_seconds',
  help: 'API request latency by route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const tasksCreated = new Counter({
  name: 'reelay_tasks_created_total',
  help: 'Tasks accepted by the API',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const tasksCompleted = new Counter({
  name: 'reelay_tasks_completed_total',
  help: 'Tasks that reached completed',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const tasksFailed = new Counter({
  name: 'reelay_tasks_failed_total',
  help: 'Tasks that reached failed',
  labelNames: ['model', 'provider', 'code'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'reelay_queue_jobs',
  help: 'Jobs per queue and state, read from Redis at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

export const queueOldestWaitingAge = new Gauge({
  name: 'reelay_queue_oldest_waiting_job_age_seconds',
  help: 'Age of the oldest job waiting for a worker (0 when none waits)',
  labelNames: ['queue'] as const,
  registers: [registry],
});

export const queueEvents = new Counter({
  name: 'reelay_queue_events_total',
  help: "Queue and worker events that mean trouble: error, failed (a job attempt threw), stalled (a dead worker's job taken back), lock_renewal_failed",
  labelNames: ['queue', 'event'] as const,
  registers: [registry],
});

export const queueRecoveryDuration = new Histogram({
  name: 'reelay_queue_recovery_duration_seconds',
  help: 'From noticing that Redis lost its data until every live task had a job again',
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

export const upstreamDuration = new Histogram({
  name: 'reelay_upstream_request_duration_seconds',
  help: 'Latency of calls to upstream providers',
  labelNames: ['provider', 'operation', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

export const upstreamErrors = new Counter({
  name: 'reelay_upstream_errors_total',
  help: 'Upstream calls that threw',
  labelNames: ['provider', 'operation'] as const,
  registers: [registry],
});

export const pollLag = new Histogram({
  name: 'reelay_poll_lag_seconds',
  help: 'How late a task job ran after the time it was re-delayed to',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'reelay_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome (delivered, failed, gave_up)',
  labelNames: ['target', 'outcome'] as const,
  registers: [registry],
});

export const webhookDeliveryDuration = new Histogram({
  name: 'reelay_webhook_delivery_duration_seconds',
  help: 'Latency of webhook delivery attempts',
  labelNames: ['target'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const admissionRunSeconds = new Histogram({
  name: 'reelay_admission_run_seconds',
  help: "A worker's admission runs (one transaction each) and how long each took, queueing its jobs included",
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [registry],
});

const TASK_SECONDS_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600];

export const taskQueueSeconds = new Histogram({
  name: 'reelay_task_queue_seconds',
  help: 'From create until an upstream accepted the task (waiting for a slot, admission, submit)',
  labelNames: ['model'] as const,
  buckets: TASK_SECONDS_BUCKETS,
  registers: [registry],
});

export const taskRunSeconds = new Histogram({
  name: 'reelay_task_run_seconds',
  help: 'From the upstream accepting the task until it ended',
  labelNames: ['model'] as const,
  buckets: TASK_SECONDS_BUCKETS,
  registers: [registry],
});

export const taskTotalSeconds = new Histogram({
  name: 'reelay_task_total_seconds',
  help: 'From create until the task ended, by outcome (completed, failed)',
  labelNames: ['model', 'outcome'] as const,
  buckets: TASK_SECONDS_BUCKETS,
  registers: [registry],
});

export const taskOutcomes = new Counter({
  name: 'reelay_task_outcomes_total',
  help: 'Ended tasks by the target that ran them (none: never accepted), outcome and error code (none when completed)',
  labelNames: ['target', 'outcome', 'code'] as const,
  registers: [registry],
});

export const taskCostMicros = new Counter({
  name: 'reelay_task_cost_micros_total',
  help: 'Money charged for completed tasks, in micro-units of the price list currency',
  labelNames: ['model'] as const,
  registers: [registry],
});

export const tasksByPhase = new Gauge({
  name: 'reelay_tasks',
  help: 'Live tasks per phase (waiting for a slot, admitted, processing) and model, read from Postgres at scrape time',
  labelNames: ['phase', 'model'] as const,
  registers: [registry],
});

export const oldestWaitingTaskAge = new Gauge({
  name: 'reelay_tasks_oldest_waiting_age_seconds',
  help: 'Age of the oldest task waiting for a slot (0 when none waits), read from Postgres at scrape time',
  registers: [registry],
});

export const dependencyUp = new Gauge({
  name: 'reelay_dependency_up',
  help: 'Whether Postgres and Redis answered at the last scrape (1) or not (0)',
  labelNames: ['dependency'] as const,
  registers: [registry],
});

/**
 * The hook every provider adapter can use around an upstream call: records latency and errors
 * under the provider's name. `operation` is a small fixed set (submit, poll, fetch, cancel, ...).
 */
export async function observeUpstream<T>(provider: string, operation: string, call: () => Promise<T>): Promise<T> {
  const end = upstreamDuration.startTimer({ provider, operation });
  try {
    const result = await call();
    end({ outcome: 'ok' });
    return result;
  } catch (err) {
    end({ outcome: 'error' });
    upstreamErrors.inc({ provider, operation });
    throw err;
  }
}

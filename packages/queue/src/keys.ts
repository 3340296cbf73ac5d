/**
 * Every Redis key and pub/sub channel name Reelay writes itself, all under the deployment's queue
 * prefix (so a `{hash-tagged}` prefix keeps them in one cluster slot). BullMQ names its own keys
 * `${prefix}:${queue}:…`; the names below use spaces no queue is called.
 */
export const KEY_SPACES = ['admission', 'api-keys', 'upstream', 'recovery', 'wake'] as const;

/** Channel on which the API announces a created task, so admission runs at once. */
export const admissionChannel = (prefix: string): string => `${prefix}:admission`;

/**
 * Set (with a TTL) whenever admission hands interactive tasks their turns: while it lives, batch
 * tasks keep to their short queue (WORKER_ADMISSION_BATCH_DEPTH); a batch running alone gets the
 * whole queue.
 */
export const interactiveAdmittedKey = (prefix: string): string => `${prefix}:admission:interactive`;

/** Counter the API processes compare with the one their key cache was filled under. */
export const apiKeyVersionKey = (prefix: string): string => `${prefix}:api-keys:version`;

/**
 * Per-target state shared by every worker: `inflight` (leases of tasks held upstream), `cooldown`
 * (set from a 429's Retry-After), `rate` (the request-rate limiter's key prefix) and `rr`
 * (round-robin turn of a model's priority group).
 */
export const upstreamKey = (prefix: string, kind: 'inflight' | 'cooldown' | 'rate' | 'rr', name: string): string => `${prefix}:upstream:${kind}:${name}`;

/**
 * Written once Redis holds every live task's job; its absence means Redis lost its data (restart
 * without persistence, failover to an empty replica, FLUSHALL) and has not been refilled yet.
 */
export const recoveryEpochKey = (prefix: string): string => `${prefix}:recovery:epoch`;

/** Held (with a TTL) by the one worker re-queueing live tasks after a loss. */
export const recoveryLeaseKey = (prefix: string): string => `${prefix}:recovery:lease`;

/**
 * Set (with a TTL) when something learns a task's upstream moved on while its job may be held by
 * a worker; the worker checks it right after re-delaying the job (see wakeTask).
 */
export const wakeKey = (prefix: string, taskId: string): string => `${prefix}:wake:${taskId}`;

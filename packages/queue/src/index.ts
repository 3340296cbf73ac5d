/** Queues, their jobs and Redis names: the catalog is the table; the rest builds on it. */
export * from './catalog';
export * from './keys';
export { createRedis, type Redis } from './connection';
export {
  createCancelsQueue,
  createQueue,
  createTasksQueue,
  BATCH_JOB_PRIORITY,
  enqueueBatch,
  enqueueCancel,
  enqueueTask,
  enqueueTasks,
  isBatchTaskJob,
  enqueueWebhook,
  ensureTaskJobs,
  promoteBatch,
  takeWakeMark,
  taskJobName,
  wakeTask,
  webhookJobId,
} from './queues';
export { registerWorker, TaskFailedError, upsertSchedulers, type RegisterWorkerOptions } from './worker';
export { DataLossWatch, isRecovering, readRecoveryMarks, RECOVERING_REASON, type DataLossWatchOptions, type RecoveryMarks } from './data-loss';
export { invalidateApiKeyCache } from './api-key-version';
export { readQueueStats, withTimeout, type QueueStats } from './stats';

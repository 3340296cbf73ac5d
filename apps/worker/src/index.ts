export { startWorker, type WorkerRuntime } from './runtime';
export type { WorkerContext, WorkerMetrics } from './context';
export { advanceTask } from './pipeline/advance-task';
export { finalizeTask } from './pipeline/finalize';
export { admitPendingTasks } from './admission';

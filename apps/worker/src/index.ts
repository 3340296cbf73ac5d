export { startWorker, type WorkerRuntime } from './runtime';
export type { WorkerContext, WorkerMetrics } from './context';

export { startWorker, type WorkerRuntime } from './runtime';
export type { WorkerContext } from './context';

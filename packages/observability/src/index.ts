export { createLogger, REDACT_PATHS, type Logger } from './logger';
export * from './metrics';
export { checkReadiness, type ReadinessReport } from './readiness';
export { stopOnSignals, type ShutdownOptions } from './shutdown';

export { createLogger, REDACT_PATHS, serializeRequest, serializeResponse, type Logger } from './logger';
export * from './metrics';
export { checkReadiness, type ReadinessReport } from './readiness';
export { stopOnSignals, type ShutdownOptions } from './shutdown';

export { createLogger, logFormat, REDACT_PATHS, serializeRequest, serializeResponse, type Logger, type LogFormat } from './logger';
export * from './metrics';
export { checkReadiness, type ReadinessReport } from './readiness';
export { stopOnSignals, type ShutdownOptions } from './shutdown';
export { exitFatally, exitOnFatalErrors, flushLogsSync } from './fatal';

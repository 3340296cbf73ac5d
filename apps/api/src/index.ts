export { createApp } from './app';
export { createApiDeps, startApi, type ApiRuntime } from './runtime';
export type { ApiDeps } from './deps';

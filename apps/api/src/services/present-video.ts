import { toVideoObject, type StatusDialect } from '@reelay/core';
import type { ApiKey, Task } from '@reelay/db';
import type { ApiDeps } from '../deps';

export function dialectFor(deps: ApiDeps, key: ApiKey): StatusDialect {
  return (key.statusDialect as StatusDialect | null) ?? deps.config.REELAY_STATUS_DIALECT;
}

/** The video object as this key sees it. */
export function presentVideo(deps: ApiDeps, key: ApiKey, task: Task): Record<string, unknown> {
  return toVideoObject(task, dialectFor(deps, key));
}

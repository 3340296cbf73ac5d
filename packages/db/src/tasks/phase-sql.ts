import { LIVE_STATUSES } from '@reelay/core';

/**
 * The phases of packages/core task-state.ts as SQL, written exactly as the partial indexes
 * tasks_live_idx, tasks_waiting_idx and tasks_batch_waiting_idx are (the planner only uses an index whose predicate the
 * query's implies). `t` is the tasks table's alias, e.g. 't.'.
 */
export const liveSql = (t = ''): string => `${t}status IN (${LIVE_STATUSES.map((s) => `'${s}'`).join(', ')})`;
/** Pending and not yet admitted: no job, no slot. */
export const waitingSql = (t = ''): string => `${t}status = 'pending' AND ${t}admitted_at IS NULL`;
/** Admitted or processing: holds a concurrency slot until it ends. */
export const holdsSlotSql = (t = ''): string => `${liveSql(t)} AND NOT (${waitingSql(t)})`;

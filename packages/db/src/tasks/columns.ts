import type { Task } from '../generated/prisma/client';
import { snake } from '../pg';

/**
 * The columns a video object is made from (and whose task it is). A retrieve and a create read only
 * these, named as Prisma names them: the other twenty-odd columns (worker bookkeeping) cost as much
 * again to send and parse.
 */
export const VIDEO_COLUMNS = [
  'id',
  'apiKeyId',
  'model',
  'provider',
  'status',
  'progress',
  'prompt',
  'durationSeconds',
  'width',
  'height',
  'fps',
  'seed',
  'n',
  'responseFormat',
  'user',
  'metadata',
  'errorCode',
  'errorMessage',
  'createdAt',
  'completedAt',
  'expiresAt',
  'deletedAt',
  'filesDeletedAt',
  'remixedFromId',
  'costMicros',
  'nextPollAt',
] as const satisfies readonly (keyof Task)[];
export type VideoRow = Pick<Task, (typeof VIDEO_COLUMNS)[number]>;
/** `"api_key_id" AS "apiKeyId", …` for a SELECT or RETURNING, with an optional table prefix. */
export const videoColumnList = (table: string): string => VIDEO_COLUMNS.map((c) => `${table}"${snake(c)}" AS "${c}"`).join(', ');

/** Columns a new task is created with (camelCase, as in the Prisma model); omitted ones take their defaults. */
export type NewTask = Partial<Task> &
  Pick<Task, 'id' | 'apiKeyId' | 'model' | 'provider' | 'durationSeconds' | 'width' | 'height' | 'fps' | 'seed' | 'expiresAt'>;

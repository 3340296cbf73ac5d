import { z } from 'zod';
import type { TaskStatus } from './task-state';
import { isIssuedId } from './input-guard';

const limitRule = 'must be an integer between 1 and 100';

/** Status words of both dialects, mapped to the one stored state. */
export const STATUS_WORDS: Record<string, TaskStatus> = {
  pending: 'pending',
  queued: 'pending',
  processing: 'processing',
  in_progress: 'processing',
  completed: 'completed',
  failed: 'failed',
};

/** Query of GET /v1/videos. Query values are text; a repeated one arrives as an array and is refused. */
export const listVideosQuerySchema = z
  .strictObject({
    limit: z
      .string({ error: limitRule })
      .regex(/^\d{1,3}$/, limitRule)
      .transform(Number)
      .pipe(z.int().min(1, limitRule).max(100, limitRule))
      .optional()
      .meta({ description: 'Page size, 1..100 (default 20)' }),
    after: z
      .string({ error: 'must be a video id' })
      .refine((v) => isIssuedId('vid', v), 'must be a video id')
      .optional()
      .meta({ description: 'Cursor: the last id of the previous page' }),
    order: z.enum(['asc', 'desc'], { error: 'must be one of asc, desc' }).optional().meta({ description: 'By creation time; default desc' }),
    status: z
      .enum(Object.keys(STATUS_WORDS) as [string, ...string[]], { error: `must be one of ${Object.keys(STATUS_WORDS).join(', ')}` })
      .transform((w) => STATUS_WORDS[w]!)
      .optional()
      .meta({ description: 'Either dialect: pending|queued, processing|in_progress, completed, failed' }),
    user: z.string({ error: 'must be a string' }).optional().meta({ description: 'Only videos created with this user' }),
    model: z.string({ error: 'must be a string' }).optional().meta({ description: 'Only videos of this model' }),
  })
  .meta({ id: 'ListVideosQuery' });

export type ListVideosQuery = z.output<typeof listVideosQuerySchema>;

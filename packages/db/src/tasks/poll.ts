import { poolOf, type Db } from '../client';
import { perTurnLoader, statement } from '../pg';
import { timelineHasRoom } from './events';

interface PollRecord {
  id: string;
  failed: boolean;
  nextPollAt: Date;
  progress: number;
  error: string | null;
}

/**
 * Progress only rises and stays below 100 until the task completes. The same statement writes the
 * timeline: a failed poll, and progress passing a quarter mark (`o` is the row as it was before).
 */
const RECORD_POLLS = statement(`WITH v AS (
    SELECT * FROM unnest($1::text[], $2::boolean[], $3::timestamp[], $4::int[], $5::text[]) AS v(id, failed, next_poll_at, progress, error)
  ), moved AS (
    UPDATE tasks t SET
      poll_count = t.poll_count + CASE WHEN v.failed THEN 0 ELSE 1 END,
      poll_errors = CASE WHEN v.failed THEN t.poll_errors + 1 ELSE 0 END,
      next_poll_at = v.next_poll_at,
      progress = GREATEST(t.progress, v.progress),
      updated_at = now()
    FROM v, tasks o
    WHERE t.id = v.id AND o.id = v.id AND t.status = 'processing'
    RETURNING t.id, t.provider_target, t.progress, o.progress AS old_progress, t.poll_errors, v.failed, v.error
  ), logged AS (
    INSERT INTO task_events (task_id, kind, target, attempt, progress, message)
    SELECT m.id, CASE WHEN m.failed THEN 'poll_error' ELSE 'progress' END, m.provider_target,
      CASE WHEN m.failed THEN m.poll_errors END, m.progress, m.error
    FROM moved m WHERE (m.failed OR m.progress / 25 > m.old_progress / 25) AND ${timelineHasRoom('m.id')}
  )
  SELECT count(*)::int AS moved FROM moved`);

/** The polls of one event-loop turn are written in one statement (see pg/batching.ts). */
const pollWriter = perTurnLoader<PollRecord, void>((db) => async (records) => {
  // One row per task: a second record for a task in the same batch replaces the first.
  const rows = [...new Map(records.map((r) => [r.id, r])).values()];
  await poolOf(db).query({
    ...RECORD_POLLS,
    values: [
      rows.map((r) => r.id),
      rows.map((r) => r.failed),
      rows.map((r) => r.nextPollAt.toISOString()),
      rows.map((r) => r.progress),
      rows.map((r) => r.error),
    ],
  });
  return records.map(() => undefined);
});

const clampProgress = (p: number): number => Math.max(0, Math.min(99, Math.floor(p)));

/** Records one poll of a processing task (or one failed attempt at it, with why) and when the next one is due. */
export function recordPoll(db: Db, id: string, poll: { failed: boolean; nextPollAt: Date; progress?: number; error?: string }): Promise<void> {
  const progress = poll.progress === undefined ? 0 : clampProgress(poll.progress);
  const error = poll.failed ? (poll.error ?? 'poll failed').slice(0, 500) : null;
  return pollWriter(db).load({ id, failed: poll.failed, nextPollAt: poll.nextPollAt, progress, error });
}

/** Progress only ever rises, and stays below 100 until the task completes. */
export async function raiseProgress(db: Db, id: string, progress: number): Promise<void> {
  const p = clampProgress(progress);
  await db.$executeRaw`UPDATE tasks SET progress = GREATEST(progress, ${p}), updated_at = now()
    WHERE id = ${id} AND status = 'processing' AND progress < ${p}`;
}

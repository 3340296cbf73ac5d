/** What the queue should do with a task's job after one step. */
type Wait = { kind: 'wait'; at: number };
export type StepOutcome = { kind: 'done' } | Wait;

export const done: StepOutcome = { kind: 'done' };
/**
 * Run the next step `delayMs` from now. The moment is fixed here, not when the job is re-delayed,
 * so the writes and Redis calls that end the step do not push the next poll later than the
 * `next_poll_at` it recorded.
 */
export const waitFor = (delayMs: number): Wait => ({ kind: 'wait', at: Date.now() + Math.max(0, Math.round(delayMs)) });

/** Growth of the poll interval per poll: 1 s, 1.6 s, 2.6 s, … up to the cap. */
const POLL_GROWTH = 1.6;

/**
 * When to poll a running task next. Frequent at first, growing by POLL_GROWTH per poll up to
 * maxMs. When the upstream gives an ETA, or its progress lets us estimate one (elapsed time ×
 * remaining / done), the next poll aims at that moment instead, within [minMs, maxMs] and never
 * later than twice the plain backoff. With 1 s / 20 s bounds a 120 s task is polled about 11 times.
 */
export function nextPollDelay(pollCount: number, minMs: number, maxMs: number, etaSeconds?: number, progress?: { percent: number; elapsedMs: number }): number {
  const backoff = Math.min(maxMs, minMs * Math.pow(POLL_GROWTH, pollCount));
  let etaMs = etaSeconds !== undefined && etaSeconds > 0 ? etaSeconds * 1000 : undefined;
  if (etaMs === undefined && progress && progress.percent >= 5 && progress.percent < 100) {
    etaMs = (progress.elapsedMs * (100 - progress.percent)) / progress.percent;
  }
  if (etaMs !== undefined) return Math.round(Math.max(minMs, Math.min(maxMs, etaMs, backoff * 2)));
  return Math.round(backoff);
}

/** Exponential backoff with equal jitter: half fixed, half random, so retries of many tasks spread out. */
export function jitteredBackoff(attempt: number, baseMs: number, capMs: number): number {
  const exp = Math.min(capMs, baseMs * Math.pow(2, Math.max(0, attempt - 1)));
  return exp / 2 + Math.random() * (exp / 2);
}

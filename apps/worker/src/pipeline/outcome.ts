/** What the queue should do with a task's job after one step. */
export type StepOutcome = { kind: 'done' } | { kind: 'wait'; delayMs: number };

export const done: StepOutcome = { kind: 'done' };
export const waitFor = (delayMs: number): StepOutcome => ({ kind: 'wait', delayMs });

/** Frequent polls at first, backing off towards the cap. */
export function nextPollDelay(pollCount: number, minMs: number, maxMs: number, etaSeconds?: number): number {
  const backoff = Math.min(maxMs, minMs * Math.pow(1.3, pollCount));
  if (etaSeconds !== undefined && etaSeconds > 0) return Math.max(minMs, Math.min(maxMs, etaSeconds * 1000, backoff * 2));
  return Math.round(backoff);
}

import { jitteredBackoff, nextPollDelay } from './outcome';

/** Simulates the poll schedule of a task that runs `runMs` upstream with linear progress. */
function pollsFor(runMs: number, minMs: number, maxMs: number, withProgress: boolean): number {
  let t = 0;
  let polls = 0;
  for (;;) {
    t +=
      polls === 0
        ? minMs
        : nextPollDelay(polls - 1, minMs, maxMs, undefined, withProgress ? { percent: Math.floor((t / runMs) * 100), elapsedMs: t } : undefined);
    polls++;
    if (t >= runMs) return polls;
  }
}

test('a 120 s task is polled at most 12 times with the default bounds, with or without progress', () => {
  expect(pollsFor(120_000, 1000, 20_000, false)).toBeLessThanOrEqual(12);
  expect(pollsFor(120_000, 1000, 20_000, true)).toBeLessThanOrEqual(12);
});

test('polls start frequent and never exceed the cap', () => {
  expect(nextPollDelay(0, 1000, 20_000)).toBe(1000);
  expect(nextPollDelay(1, 1000, 20_000)).toBe(1600);
  expect(nextPollDelay(50, 1000, 20_000)).toBe(20_000);
});

test("the provider's ETA brings the next poll to when the task should be done", () => {
  expect(nextPollDelay(10, 1000, 20_000, 3)).toBe(3000);
  // Progress 50% after 30 s: about 30 s left, capped at 20 s.
  expect(nextPollDelay(10, 1000, 20_000, undefined, { percent: 50, elapsedMs: 30_000 })).toBe(20_000);
  expect(nextPollDelay(10, 1000, 20_000, undefined, { percent: 90, elapsedMs: 45_000 })).toBe(5000);
});

test('jittered backoff stays within half and all of the exponential step', () => {
  for (let i = 0; i < 50; i++) {
    const d = jitteredBackoff(3, 1000, 60_000);
    expect(d).toBeGreaterThanOrEqual(2000);
    expect(d).toBeLessThanOrEqual(4000);
  }
});

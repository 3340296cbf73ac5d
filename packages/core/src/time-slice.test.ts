import { timeSlicer } from './time-slice';

describe('timeSlicer', () => {
  it('lets a timer run in the middle of a long loop, and costs nothing within a slice', async () => {
    const slice = timeSlicer(5);
    let timerRanAt = -1;
    setTimeout(() => (timerRanAt = i), 0);
    let i = 0;
    let yields = 0;
    const started = performance.now();
    for (; performance.now() - started < 60; i++) {
      const turn = slice();
      if (turn) {
        yields++;
        await turn;
      }
    }
    // A loop without turns would let the timer run only after its last iteration.
    expect(timerRanAt).toBeGreaterThan(0);
    expect(timerRanAt).toBeLessThan(i);
    // One turn per ~5 ms slice, not one per iteration.
    expect(yields).toBeGreaterThan(2);
    expect(yields).toBeLessThan(i / 10);
  });
});

/**
 * For long loops on a process that also serves latency-bound work (the worker validating a
 * 50,000-line batch while it admits and submits interactive tasks): `await slice()` inside the
 * loop gives the event loop a turn once `ms` of work has run since the last one, so other
 * requests wait at most about `ms` per step instead of for the whole loop.
 */
export function timeSlicer(ms: number): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < ms) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = performance.now();
        resolve();
      }),
    );
  };
}

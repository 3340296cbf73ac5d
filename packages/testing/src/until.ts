/**
 * Waiting on something asynchronous in a test: polling until a condition holds, and the error
 * a promise rejects with.
 */

/** Polls `fn` every `intervalMs` until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 90_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until a server's /healthz answers 200 (a process just spawned is still starting). */
export async function untilHealthy(url: string, timeoutMs = 60_000, intervalMs = 100): Promise<void> {
  await until(
    `${url}/healthz to answer`,
    () =>
      fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    timeoutMs,
    intervalMs,
  );
}

/** The error a promise rejects with; fails the test if it resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

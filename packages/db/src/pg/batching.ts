import DataLoader from 'dataloader';
import type { Db } from '../client';

/**
 * Calls made in the same turn of the event loop (a busy API or worker has dozens in flight) go to
 * Postgres as one statement. On this kind of machine a query's socket write and wake-up cost more
 * than the query itself, so fewer, larger statements are what lets one process carry tens of
 * thousands of tasks. DataLoader does the collecting (a well-kept library, the same pattern Prisma
 * uses for findUnique).
 */
export const nextTurn = (run: () => void): void => void setImmediate(run);
const MAX_BATCH = 500;

/**
 * A batch statement that fails is tried again key by key, so one request's bad value fails only
 * that request, never the neighbours that happened to share its event-loop turn.
 */
function isolating<K, V>(batch: (keys: readonly K[]) => Promise<V[]>): (keys: readonly K[]) => Promise<(V | Error)[]> {
  return async (keys) => {
    try {
      return await batch(keys);
    } catch (err) {
      if (keys.length === 1) return [asError(err)];
      return Promise.all(keys.map((k) => batch([k]).then((r) => r[0]!, asError)));
    }
  };
}

/**
 * The error as an Error of this realm (DataLoader tells failures from values by instanceof Error),
 * with its code and other fields kept so callers can still tell what failed. An error made in
 * another realm (a vm context, as under jest) would otherwise pass as a value.
 */
function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (typeof e !== 'object' || e === null) return new Error(String(e));
  return Object.assign(new Error(String((e as { message?: unknown }).message ?? e)), e);
}

/** One batching loader per Db, made on first use: `const load = perTurnLoader((db) => async (keys) => …)`. */
export function perTurnLoader<K, V>(batchOf: (db: Db) => (keys: readonly K[]) => Promise<V[]>): (db: Db) => DataLoader<K, V> {
  const loaders = new WeakMap<Db, DataLoader<K, V>>();
  return (db) => {
    let loader = loaders.get(db);
    if (!loader) {
      loader = new DataLoader<K, V>(isolating(batchOf(db)), { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: nextTurn });
      loaders.set(db, loader);
    }
    return loader;
  };
}

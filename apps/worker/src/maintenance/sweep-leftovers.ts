import { findLiveUpstreamIds } from '@reelay/db';
import type { WorkerContext } from '../context';

/**
 * Reclaims what killed workers leave behind: temp files and scratch folders in storage's `.tmp/`,
 * and provider state (preview render folders) whose task is no longer live. Only what has been
 * untouched for `maxAgeMs` is considered, so work in progress is never taken away.
 */
export async function sweepLeftovers(ctx: WorkerContext, maxAgeMs: number): Promise<{ tempFiles: number; providerState: number }> {
  const tempFiles = await ctx.storage.sweepTemp(maxAgeMs);
  let providerState = 0;
  const providers = new Set(ctx.providers.keys().map((k) => ctx.providers.get(k)!));
  for (const provider of providers) {
    if (!provider.heldUpstreamIds || !provider.release) continue;
    const held = await provider.heldUpstreamIds(maxAgeMs);
    const live = await findLiveUpstreamIds(ctx.db, held);
    for (const id of held.filter((h) => !live.has(h))) {
      await provider.release(id);
      providerState++;
    }
  }
  return { tempFiles, providerState };
}

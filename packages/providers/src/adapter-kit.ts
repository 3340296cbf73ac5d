import type { ProviderInit, UpstreamWebhookEvent } from './provider';

/** What the HTTP adapters share beyond http.ts (calls) and download.ts (results). */

/** The settings every HTTP adapter's constructor takes besides its own. */
export interface HttpAdapterOptions {
  apiKey: string;
  baseUrl?: string;
  requestTimeoutMs?: number;
  downloadTimeoutMs?: number;
  maxDownloadBytes?: number;
  /** Adapter name this instance is registered under (the catalog's `provider`). */
  name?: string;
}

/** The catalog target's secret, or a start-up error saying which target needs `credentials`. */
export function requireApiKey(init: ProviderInit, adapter: string, what: string): string {
  if (!init.apiKey) throw new Error(`model catalog: a ${adapter} target needs \`credentials\` (the variable holding ${what})`);
  return init.apiKey;
}

/** An optional string option of a catalog target, or a start-up error naming it. */
export function stringOption(init: ProviderInit, adapter: string, option: string, allowed?: readonly string[]): string | undefined {
  const v = init.options[option];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v || (allowed && !allowed.includes(v))) {
    throw new Error(`model catalog: ${adapter} options.${option} must be ${allowed ? `one of ${allowed.join(', ')}` : 'a non-empty string'}`);
  }
  return v;
}

/**
 * Upstreams that POST a task's state to the callback URL without signing it (Luma, Kling,
 * MiniMax, Seedance): anyone who learns the URL could post to it, so a delivery is only a reason
 * to poll now. It must be JSON naming the upstream task the Reelay task waits on; what it claims
 * decides only whether to wake the task, never the task's outcome (the poll decides that).
 */
export function unsignedWakeUp(
  body: Buffer,
  upstreamId: string,
  read: (payload: Record<string, unknown>) => { id: unknown; terminal: boolean },
): UpstreamWebhookEvent | null {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const { id, terminal } = read(payload as Record<string, unknown>);
  if (id === undefined || id === null || String(id) !== upstreamId) return null;
  return { terminal };
}

/** A 0..1 fraction as Reelay's 0..99 progress (100 is only ever reported by completion). */
export const percentOf = (fraction: unknown): number | undefined =>
  typeof fraction === 'number' && Number.isFinite(fraction) ? Math.max(0, Math.min(99, Math.floor(fraction * 100))) : undefined;

import type { ModelSpec } from './catalog';

/**
 * Money is integer micro-units (1/1,000,000 of the currency) held in bigint; durations enter as
 * whole milliseconds, so no amount ever passes through a float.
 */
export const MICROS_PER_UNIT = 1_000_000n;

/** Per-second price of one output at this resolution (0 for a model without pricing). */
export function pricePerSecondMicros(model: ModelSpec, width: number, height: number): bigint {
  const tiers = model.pricing;
  if (!tiers) return 0n;
  const pixels = width * height;
  const tier = tiers.find((t) => t.maxPixels === undefined || pixels <= t.maxPixels) ?? tiers[tiers.length - 1]!;
  return BigInt(tier.microsPerSecond);
}

/** Output is billed by the whole millisecond (0.1 + 0.2 s is 300 ms). */
export const billedMilliseconds = (seconds: number): bigint => BigInt(Math.max(0, Math.round(seconds * 1000)));

/**
 * Cost of `seconds` of output at `pricePerSecond`, rounded up to a whole micro-unit. A completion's
 * charge is the same sum done in SQL on the task row (packages/db completeTask), capped at the reservation.
 */
export function costForSeconds(pricePerSecond: bigint, seconds: number): bigint {
  return (pricePerSecond * billedMilliseconds(seconds) + 999n) / 1000n;
}

/** What a request will cost at most: every one of its n outputs at the requested duration. */
export function estimateCostMicros(pricePerSecond: bigint, durationSeconds: number, n: number): bigint {
  return costForSeconds(pricePerSecond, durationSeconds * n);
}

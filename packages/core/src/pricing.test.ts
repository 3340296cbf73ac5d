import { catalogFileSchema, DEFAULT_CATALOG, ModelCatalog, type ModelSpec } from './catalog';
import { costForSeconds, estimateCostMicros, pricePerSecondMicros } from './pricing';

const defaults = new ModelCatalog(DEFAULT_CATALOG);
const priced = (pricing: ModelSpec['pricing']): ModelSpec => ({ ...defaults.get('sora-1.0')!, pricing });

test('the price per second follows the resolution tier of the video', () => {
  const tiered = priced([
    { maxPixels: 640 * 640, microsPerSecond: 20_000 },
    { maxPixels: 1280 * 720, microsPerSecond: 50_000 },
    { maxPixels: 1920 * 1080, microsPerSecond: 100_000 },
    { microsPerSecond: 300_000 },
  ]);
  expect(pricePerSecondMicros(tiered, 640, 640)).toBe(20_000n);
  expect(pricePerSecondMicros(tiered, 1280, 720)).toBe(50_000n);
  expect(pricePerSecondMicros(tiered, 1920, 1080)).toBe(100_000n);
  expect(pricePerSecondMicros(tiered, 3840, 2160)).toBe(300_000n);
  // Without an open-ended last tier, anything larger pays the last tier's price.
  const capped = priced([
    { maxPixels: 1280 * 720, microsPerSecond: 300_000 },
    { maxPixels: 1792 * 1024, microsPerSecond: 500_000 },
  ]);
  expect(pricePerSecondMicros(capped, 720, 1280)).toBe(300_000n);
  expect(pricePerSecondMicros(capped, 1024, 1792)).toBe(500_000n);
  expect(pricePerSecondMicros(capped, 3840, 2160)).toBe(500_000n);
});

test('a model without pricing is free', () => {
  const { pricing: _, ...free } = priced([{ microsPerSecond: 1_000 }]);
  expect(pricePerSecondMicros(free, 1280, 720)).toBe(0n);
});

test('the built-in preview models are free at every size they accept', () => {
  for (const model of defaults.list()) {
    expect({ model: model.id, pricing: model.pricing }).toEqual({ model: model.id, pricing: undefined });
    for (const [w, h] of [
      [64, 64],
      [1280, 720],
      [1792, 1024],
      [3840, 3840],
    ] as const) {
      expect(estimateCostMicros(pricePerSecondMicros(model, w, h), 60, 4)).toBe(0n);
    }
  }
});

test('estimates count every output and round up to a whole micro-unit, in integers', () => {
  expect(estimateCostMicros(50_000n, 5, 2)).toBe(500_000n);
  expect(costForSeconds(3n, 0.5)).toBe(2n); // 1.5 rounds up
  expect(costForSeconds(1_000n, 0.1 + 0.2)).toBe(300n); // 0.30000000000000004 s is 300 ms
});

test('a catalog file must price in whole, non-negative micro-units', () => {
  const file = (pricing: unknown) => ({ ...DEFAULT_CATALOG, models: [{ ...DEFAULT_CATALOG.models[0]!, pricing }] });
  expect(catalogFileSchema.safeParse(file([{ maxPixels: 921600, microsPerSecond: 10 }, { microsPerSecond: 20 }])).success).toBe(true);
  expect(catalogFileSchema.safeParse(file([{ microsPerSecond: -1 }])).success).toBe(false);
  expect(catalogFileSchema.safeParse(file([{ microsPerSecond: 0.5 }])).success).toBe(false);
});

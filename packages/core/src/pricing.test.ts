import { catalogFileSchema, DEFAULT_CATALOG, ModelCatalog } from './catalog';
import { costForSeconds, estimateCostMicros, pricePerSecondMicros, settledCostMicros } from './pricing';

const catalog = new ModelCatalog(DEFAULT_CATALOG);

test('the price per second follows the resolution tier of the video', () => {
  const sora = catalog.get('sora-1.0')!;
  expect(pricePerSecondMicros(sora, 640, 640)).toBe(20_000n);
  expect(pricePerSecondMicros(sora, 1280, 720)).toBe(50_000n);
  expect(pricePerSecondMicros(sora, 1920, 1080)).toBe(100_000n);
  expect(pricePerSecondMicros(sora, 3840, 2160)).toBe(300_000n);
  const pro = catalog.get('sora-2-pro')!;
  expect(pricePerSecondMicros(pro, 720, 1280)).toBe(300_000n);
  expect(pricePerSecondMicros(pro, 1024, 1792)).toBe(500_000n);
});

test('a model without pricing is free', () => {
  const { pricing: _, ...free } = catalog.get('sora-1.0')!;
  expect(pricePerSecondMicros(free, 1280, 720)).toBe(0n);
});

test('estimates count every output and round up to a whole micro-unit, in integers', () => {
  expect(estimateCostMicros(50_000n, 5, 2)).toBe(500_000n);
  expect(costForSeconds(3n, 0.5)).toBe(2n); // 1.5 rounds up
  expect(costForSeconds(1_000n, 0.1 + 0.2)).toBe(300n); // 0.30000000000000004 s is 300 ms
});

test('a completed task is charged what it produced, never more than was reserved', () => {
  expect(settledCostMicros(50_000n, 250_000n, 4)).toBe(200_000n);
  expect(settledCostMicros(50_000n, 250_000n, 6)).toBe(250_000n);
  expect(settledCostMicros(50_000n, 250_000n, null)).toBe(250_000n);
});

test('a catalog file must price in whole, non-negative micro-units', () => {
  const priced = (pricing: unknown) => ({ ...DEFAULT_CATALOG, models: [{ ...DEFAULT_CATALOG.models[0]!, pricing }] });
  expect(catalogFileSchema.safeParse(priced([{ maxPixels: 921600, microsPerSecond: 10 }, { microsPerSecond: 20 }])).success).toBe(true);
  expect(catalogFileSchema.safeParse(priced([{ microsPerSecond: -1 }])).success).toBe(false);
  expect(catalogFileSchema.safeParse(priced([{ microsPerSecond: 0.5 }])).success).toBe(false);
});

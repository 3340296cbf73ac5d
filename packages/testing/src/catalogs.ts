import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CATALOG, type CatalogFile } from '@reelay/core';

const preview = [{ provider: 'preview' }];

/**
 * The default catalog plus small models that render in a fraction of a second, so tests that
 * need many completed videos stay light on a shared machine:
 * - `tiny`: seed-style ranges (1-4 s, 64-256 px, 10 fps);
 * - `tiny-2`: OpenAI-style values (seconds 1 or 4, 128x128 or 96x160), default 4 s like sora-2;
 * - `tiny-noremix`: like `tiny`, but its provider cannot remix.
 */
export function writeTestCatalog(): string {
  const tiny = {
    id: 'tiny',
    description: 'Test model: tiny seed-style clips.',
    targets: preview,
    duration: { min: 1, max: 4 },
    size: { width: { min: 64, max: 256 }, height: { min: 64, max: 256 } },
    fps: { values: [10, 12] },
    maxN: 2,
    acceptsImage: true,
    supportsRemix: true,
    defaults: { duration: 1, width: 128, height: 128, fps: 10 },
  };
  const file: CatalogFile = {
    defaultModel: 'sora-1.0',
    models: [
      ...DEFAULT_CATALOG.models,
      tiny,
      {
        ...tiny,
        id: 'tiny-2',
        description: 'Test model: tiny OpenAI-style clips.',
        duration: { values: [1, 4] },
        size: { values: ['128x128', '96x160'] },
        defaults: { duration: 4, width: 128, height: 128, fps: 10 },
      },
      { ...tiny, id: 'tiny-noremix', supportsRemix: false },
    ],
  };
  const path = join(mkdtempSync(join(tmpdir(), 'reelay-catalog-')), 'models.json');
  writeFileSync(path, JSON.stringify(file));
  return path;
}

/**
 * A catalog with one cheap, fast model (`tiny`, priced) and an unpriced `other`, so tests can
 * run many tasks on a busy machine.
 */
export function tinyCatalogFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'reelay-catalog-')), 'models.json');
  writeFileSync(
    file,
    JSON.stringify({
      defaultModel: 'tiny',
      models: [
        {
          id: 'tiny',
          targets: preview,
          duration: { min: 0.1, max: 10 },
          size: { width: { min: 64, max: 1280 }, height: { min: 64, max: 1280 } },
          fps: { min: 1, max: 30 },
          maxN: 2,
          pricing: [{ maxPixels: 128 * 128, microsPerSecond: 1_000 }, { microsPerSecond: 7_000 }],
          defaults: { duration: 1, width: 128, height: 128, fps: 10 },
        },
        {
          id: 'other',
          targets: preview,
          duration: { min: 0.1, max: 10 },
          size: { width: { min: 64, max: 1280 }, height: { min: 64, max: 1280 } },
          fps: { min: 1, max: 30 },
          defaults: { duration: 1, width: 128, height: 128, fps: 10 },
        },
      ],
    }),
  );
  return file;
}

/** A create body for `tiny` of tinyCatalogFile(). */
export const TINY = { prompt: 'tiny', duration: 1, width: 128, height: 128, fps: 10 };

/** A catalog target on an OpenAI-compatible emulator (its key read from env `credentials`). */
export const emulatorTarget = (emulator: { url: string }, credentials = 'UPSTREAM_KEY') => ({
  provider: 'openai-compatible',
  baseUrl: emulator.url,
  credentials,
  upstreamModel: 'sora-2',
});

/** A catalog model for upstream tests: 1-20 s, 64-1920 px, 12 or 24 fps, a 1 s 128x128 default. */
export const emulatedModel = (id: string, targets: object[], extra: Record<string, unknown> = {}) => ({
  id,
  targets,
  duration: { min: 1, max: 20 },
  size: { width: { min: 64, max: 1920 }, height: { min: 64, max: 1920 } },
  fps: { values: [12, 24] },
  maxN: 1,
  defaults: { duration: 1, width: 128, height: 128, fps: 12 },
  ...extra,
});

/** Writes `dir`/models.json with one emulatedModel on `emulator`, the default model; returns its path. */
export function writeEmulatorCatalog(dir: string, modelId: string, emulator: { url: string }): string {
  const file = join(dir, 'models.json');
  writeFileSync(file, JSON.stringify({ defaultModel: modelId, models: [emulatedModel(modelId, [emulatorTarget(emulator)])] }));
  return file;
}

/** A catalog model that takes one size and one duration at 24 fps, as an upstream's fixed shapes do. */
export const fixedShapeModel = (id: string, targets: object[], size: string, duration: number) => {
  const [width, height] = size.split('x').map(Number);
  return {
    id,
    targets,
    duration: { values: [duration] },
    size: { values: [size] },
    fps: { values: [24] },
    maxN: 1,
    defaults: { duration, width, height, fps: 24 },
  };
};

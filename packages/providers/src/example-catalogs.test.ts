import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '@reelay/config';
import { ModelCatalog } from '@reelay/core';
import { ROOT } from '@reelay/testing';
import { ENV_VARIABLE_OPTIONS, ProviderRegistry } from './registry';

/** Every example in examples/catalogs loads as a catalog and builds its adapters (their options checked). */
const dir = join(ROOT, 'examples', 'catalogs');
const files = readdirSync(dir).filter((f) => /\.jsonc?$/.test(f));

test('there is an example catalog for each of the six newer adapters', () => {
  expect(files).toEqual(expect.arrayContaining(['runway.jsonc', 'luma.jsonc', 'minimax.jsonc', 'kling.jsonc', 'seedance.jsonc', 'comfyui.jsonc']));
});

test.each(files)('%s loads and every target builds', (file) => {
  const catalog = ModelCatalog.load(join(dir, file));
  const variables = [...catalog.targets().values()]
    .flatMap((t) => [t.credentials, ...ENV_VARIABLE_OPTIONS.map((o) => t.options?.[o])])
    .filter((v): v is string => typeof v === 'string');
  const registry = new ProviderRegistry(parseConfig(Object.fromEntries(variables.map((v) => [v, 'example-secret']))), catalog);
  expect(registry.keys().length).toBe(catalog.targets().size);
  for (const m of catalog.list()) expect(m.description).not.toBe('');
});

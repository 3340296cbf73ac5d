import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CATALOG, ModelCatalog, modelUpstream } from './catalog';

const file = (content: string): string => {
  const p = join(mkdtempSync(join(tmpdir(), 'catalog-')), 'models.json');
  writeFileSync(p, content);
  return p;
};

test('the default catalog serves the seed and OpenAI model names, sora-1.0 by default', () => {
  const c = ModelCatalog.load();
  expect(c.list().map((m) => m.id)).toEqual(['sora-1.0', 'sora-turbo', 'sora-2', 'sora-2-pro']);
  expect(c.defaultModel.id).toBe('sora-1.0');
  expect(c.get('sora-1.0')!.duration).toEqual({ min: 1, max: 60 });
});

test('a catalog file replaces the default one', () => {
  const custom = { defaultModel: 'tiny', models: [{ ...DEFAULT_CATALOG.models[0]!, id: 'tiny' }] };
  const c = ModelCatalog.load(file(JSON.stringify(custom)));
  expect(c.list().map((m) => m.id)).toEqual(['tiny']);
});

test('a broken catalog file is refused with the file and the field named', () => {
  expect(() => ModelCatalog.load(file('{not json'))).toThrow(/model catalog .*models\.json: /);
  expect(() => ModelCatalog.load(file(JSON.stringify({ defaultModel: 'x', models: [{ id: 'x' }] })))).toThrow(/models\.0\.targets/);
  const wrongDefault = { defaultModel: 'nope', models: [DEFAULT_CATALOG.models[0]] };
  expect(() => ModelCatalog.load(file(JSON.stringify(wrongDefault)))).toThrow(/defaultModel "nope" is not one of its models/);
});

test('a model names its adapters in the order they are tried, without credentials or addresses', () => {
  for (const m of ModelCatalog.load().list()) expect(modelUpstream(m)).toEqual({ adapter: 'preview', targets: [{ adapter: 'preview', model: null, priority: 0 }] });
  const mixed = modelUpstream({
    targets: [
      { provider: 'replicate', upstreamModel: 'acme/video', credentials: 'REPLICATE_TOKEN', priority: 5 },
      { provider: 'openai-compatible', upstreamModel: 'sora-2', baseUrl: 'https://api.example.com/v1', credentials: 'OPENAI_KEY', priority: 1 },
      { provider: 'openai-compatible', upstreamModel: 'sora-2', credentials: 'OPENAI_KEY_2', priority: 1 },
    ],
  });
  expect(mixed).toEqual({
    adapter: 'openai-compatible',
    targets: [
      { adapter: 'openai-compatible', model: 'sora-2', priority: 1 },
      { adapter: 'openai-compatible', model: 'sora-2', priority: 1 },
      { adapter: 'replicate', model: 'acme/video', priority: 5 },
    ],
  });
});

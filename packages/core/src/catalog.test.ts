import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CATALOG, ModelCatalog, modelUpstream, parseCatalog, targetGroups } from './catalog';

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
  expect(() => ModelCatalog.load(file(JSON.stringify({ defaultModel: 'x', models: [{ id: 'x' }] })))).toThrow(/models\[0\]\.targets: /);
  const wrongDefault = { defaultModel: 'nope', models: [DEFAULT_CATALOG.models[0]] };
  expect(() => ModelCatalog.load(file(JSON.stringify(wrongDefault)))).toThrow(/defaultModel: "nope" is not one of the catalog's models \(sora-1\.0\)/);
});

test('a catalog may carry comments and trailing commas', () => {
  const text = `// two models on the preview renderer
  {
    "defaultModel": "tiny", /* the one a request without "model" gets */
    "models": [${JSON.stringify({ ...DEFAULT_CATALOG.models[0]!, id: 'tiny' })},],
  }`;
  const parsed = parseCatalog(text);
  expect(parsed.ok && parsed.catalog.defaultModel.id).toBe('tiny');
});

test('every problem is reported, each by its field path; a misspelt field is not silently ignored', () => {
  const model = DEFAULT_CATALOG.models[0]!;
  const text = JSON.stringify({
    defaultModel: 'a',
    models: [
      { ...model, id: 'a', targets: [{ provider: 'fal', credentials: 'fal-key' }], duration: { min: 5, max: 1 } },
      { ...model, id: 'a', fps: { values: [] }, size: '1280x720', maxRequestPerSecond: 3 },
    ],
  });
  const parsed = parseCatalog(text);
  expect(parsed.ok).toBe(false);
  const problems = parsed.ok ? [] : parsed.problems.map((p) => `${p.path}: ${p.message}`);
  expect(problems).toEqual(
    expect.arrayContaining([
      'models[0].targets[0].credentials: must be an environment variable name (A-Z, 0-9, _)',
      'models[0].duration: min must not exceed max',
      'models[1].fps.values: Too small: expected array to have >=1 items',
      expect.stringMatching(/^models\[1\]\.size: must be \{"values": \["WxH", \.\.\.\]\} or \{"width"/),
      'models[1].maxRequestPerSecond: unknown field',
    ]),
  );
  expect(problems).toHaveLength(5);
  // Once the schema holds, the rules across fields: ids are unique.
  const dup = parseCatalog(
    JSON.stringify({
      defaultModel: 'a',
      models: [
        { ...model, id: 'a' },
        { ...model, id: 'a' },
      ],
    }),
  );
  expect(dup.ok ? [] : dup.problems).toEqual([{ path: 'models[1].id', message: 'duplicate model id "a"' }]);
  const syntax = parseCatalog('{\n  "defaultModel": "a"\n  "models": []\n}');
  expect(syntax.ok ? [] : syntax.problems).toEqual([{ path: 'line 3, column 3', message: 'syntax error: CommaExpected' }]);
});

test('targets are tried by priority (default: position); equal priorities form one round-robin group', () => {
  const groups = targetGroups({ targets: [{ provider: 'a', priority: 1 }, { provider: 'b', priority: 0 }, { provider: 'c', priority: 1 }, { provider: 'd' }] });
  expect(groups.map((g) => [g.priority, g.targets.map((t) => t.provider)])).toEqual([
    [0, ['b']],
    [1, ['a', 'c']],
    [3, ['d']],
  ]);
});

test('a model names its adapters in the order they are tried, without credentials or addresses', () => {
  for (const m of ModelCatalog.load().list())
    expect(modelUpstream(m)).toEqual({ adapter: 'preview', targets: [{ adapter: 'preview', model: null, priority: 0 }] });
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

import { parseConfig } from '@reelay/config';
import { ModelCatalog, targetKey, type CatalogFile } from '@reelay/core';
import { OpenAICompatibleProvider } from './openai-compatible/openai-compatible-provider';
import { ProviderRegistry } from './registry';

const model = (id: string, targets: CatalogFile['models'][number]['targets']) => ({
  id,
  description: '',
  targets,
  duration: { min: 1, max: 10 },
  size: { values: ['128x128'] },
  fps: { values: [24] },
  maxN: 1,
  acceptsImage: true,
  supportsRemix: true,
  deadlineSeconds: 60,
  defaults: { duration: 1, width: 128, height: 128, fps: 24 },
});
const oai = (credentials: string, baseUrl = 'http://127.0.0.1:9') => ({ provider: 'openai-compatible', baseUrl, credentials });

test('one provider instance per distinct target; two models sharing a target share the instance', () => {
  const catalog = new ModelCatalog({
    defaultModel: 'a',
    models: [model('a', [oai('KEY_ONE'), oai('KEY_TWO')]), model('b', [oai('KEY_ONE'), { provider: 'preview' }])],
  });
  const reg = new ProviderRegistry(parseConfig({ KEY_ONE: 'sk-1', KEY_TWO: 'sk-2' }), catalog);
  expect(reg.keys().sort()).toEqual([targetKey(oai('KEY_ONE')), targetKey(oai('KEY_TWO')), targetKey({ provider: 'preview' })].sort());
  const one = reg.get(targetKey(oai('KEY_ONE')));
  expect(one).toBeInstanceOf(OpenAICompatibleProvider);
  expect(one).not.toBe(reg.get(targetKey(oai('KEY_TWO'))));
  expect(targetKey(oai('KEY_ONE'))).not.toContain('sk-1'); // the id names the variable, never the secret
});

test('a credentials variable missing from the environment stops the registry with its name', () => {
  const catalog = new ModelCatalog({ defaultModel: 'a', models: [model('a', [oai('MISSING_UPSTREAM_KEY')])] });
  expect(() => new ProviderRegistry(parseConfig({}), catalog)).toThrow(/MISSING_UPSTREAM_KEY: not set/);
});

test('an unknown adapter name is refused with the known ones listed', () => {
  const catalog = new ModelCatalog({ defaultModel: 'a', models: [model('a', [{ provider: 'nope' }])] });
  expect(() => new ProviderRegistry(parseConfig({}), catalog)).toThrow(/unknown provider "nope" \(known: preview, openai-compatible/);
});

test('secrets are not part of the config object when it is printed', () => {
  const config = parseConfig({ KEY_ONE: 'sk-very-secret' });
  expect(JSON.stringify(config)).not.toContain('sk-very-secret');
});

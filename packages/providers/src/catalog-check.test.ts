import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CATALOG } from '@reelay/core';
import { checkCatalogFile } from './catalog-check';
import { PROVIDER_FACTORIES } from './registry';

const base = DEFAULT_CATALOG.models[0]!;
const write = (file: unknown): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'catalog-check-')), 'models.jsonc');
  writeFileSync(path, typeof file === 'string' ? file : JSON.stringify(file));
  return path;
};
const problems = (path: string, env: NodeJS.ProcessEnv = {}) => checkCatalogFile(path, env).problems.map((p) => `${p.path}: ${p.message}`);

test('a valid catalog: no problems, and each model lists its upstreams in the order tasks try them', () => {
  const path = write({
    defaultModel: 'b',
    models: [
      { ...base, id: 'a', targets: [{ provider: 'preview' }] },
      {
        ...base,
        id: 'b',
        targets: [
          { provider: 'openai-compatible', credentials: 'KEY_ONE', priority: 0 },
          { provider: 'openai-compatible', credentials: 'KEY_TWO', priority: 0 },
          { provider: 'fal', upstreamModel: 'fal-ai/veo3', credentials: 'FAL_KEY', priority: 5 },
        ],
      },
    ],
  });
  const check = checkCatalogFile(path, { KEY_ONE: 'x', KEY_TWO: 'y', FAL_KEY: 'z' });
  expect(check.problems).toEqual([]);
  expect(check.models[1]!.routes.map((r) => r.url)).toEqual(['https://api.openai.com', 'https://api.openai.com', 'https://queue.fal.run']);
  expect(check.models.map((m) => [m.id, m.isDefault, m.routes.map((r) => `${r.rank}:${r.target.credentials ?? r.target.provider}`)])).toEqual([
    ['a', false, ['1:preview']],
    ['b', true, ['1:KEY_ONE', '1:KEY_TWO', '2:FAL_KEY']],
  ]);
});

test('unknown adapters, unset variables, adapter refusals and a missing upstreamModel are each named by field path', () => {
  const path = write({
    defaultModel: 'a',
    models: [
      {
        ...base,
        id: 'a',
        targets: [
          { provider: 'pika' },
          { provider: 'replicate', upstreamModel: 'owner/name', credentials: 'REPLICATE_API_TOKEN', options: { webhookSecretEnv: 'REPLICATE_WEBHOOK_SECRET' } },
          { provider: 'fal', upstreamModel: 'fal-ai/veo3' },
          { provider: 'gemini-veo', credentials: 'GEMINI_API_KEY' },
          { provider: 'openai-compatible', options: { dialect: 'klingon' } },
        ],
      },
    ],
  });
  const check = checkCatalogFile(path, { GEMINI_API_KEY: 'g' });
  expect(check.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
    'models[0].targets[1].credentials: environment variable REPLICATE_API_TOKEN is not set',
    'models[0].targets[1].options.webhookSecretEnv: environment variable REPLICATE_WEBHOOK_SECRET is not set',
    `models[0].targets[0].provider: unknown adapter "pika" (known: ${Object.keys(PROVIDER_FACTORIES).join(', ')})`,
    'models[0].targets[2]: a fal target needs `credentials` (the variable holding the fal key)',
    'models[0].targets[3].upstreamModel: a gemini-veo target needs one, e.g. "veo-3.1-generate-preview"',
    expect.stringMatching(/^models\[0\]\.targets\[4\]: openai-compatible options: /),
  ]);
  expect(check.missingEnv).toEqual(['REPLICATE_API_TOKEN', 'REPLICATE_WEBHOOK_SECRET']);
});

test('schema and syntax problems come back as such, with nothing else checked', () => {
  expect(problems(write({ defaultModel: 'a', models: [{ ...base, id: 'a', targets: [{ provider: 'preview', upstreamModle: 'x' }] }] }))).toEqual([
    'models[0].targets[0].upstreamModle: unknown field',
  ]);
  expect(problems(write('{ "defaultModel": "a", '))).toEqual([expect.stringMatching(/^line 1, column \d+: syntax error: /)]);
  expect(problems('/nonexistent/models.json')).toEqual([expect.stringMatching(/^\(file\): ENOENT/)]);
});

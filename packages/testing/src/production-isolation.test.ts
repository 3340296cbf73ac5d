import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './processes';

/**
 * The kit is for tests and benches only: no production package (apps/*, packages/* but this
 * one) may depend on it, and no production source file may import it. A devDependency used by
 * a package's own *.test.ts files is allowed.
 */
const KIT = '@reelay/testing';

const productionPackages = (): string[] =>
  ['apps', 'packages']
    .flatMap((group) => readdirSync(join(ROOT, group)).map((name) => join(ROOT, group, name)))
    .filter((dir) => dir !== join(ROOT, 'packages', 'testing') && existsSync(join(dir, 'package.json')));

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'generated' ? [] : sourceFiles(path);
    return /\.(ts|js|mjs|cjs)$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [path] : [];
  });
}

/** Import specifiers that reach the kit: by package name, or by a relative path into packages/testing. */
function kitImports(source: string): string[] {
  const specifiers = [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  return specifiers.filter((s) => s === KIT || s.startsWith(`${KIT}/`) || /(^|\/)packages\/testing(\/|$)|^(\.\.\/)+testing(\/|$)/.test(s));
}

test('the import scan finds the kit by name, subpath, require, dynamic import and relative path', () => {
  expect(kitImports("import { until } from '@reelay/testing';")).toEqual(['@reelay/testing']);
  expect(kitImports("export { x } from '@reelay/testing/src/until';")).toHaveLength(1);
  expect(kitImports("const k = require('@reelay/testing');\nawait import('../../testing/src/emulators/kit');")).toHaveLength(2);
  expect(kitImports("import '../../../packages/testing/src/index';")).toHaveLength(1);
  expect(kitImports("import { http } from '../http';\nimport { z } from 'zod';")).toEqual([]);
});

test('no production package lists @reelay/testing outside devDependencies', () => {
  const packages = productionPackages();
  expect(packages.length).toBeGreaterThan(5);
  const offenders = packages.flatMap((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    return ['dependencies', 'optionalDependencies', 'peerDependencies']
      .filter((field) => manifest[field]?.[KIT] !== undefined)
      .map((field) => `${relative(ROOT, dir)}/package.json ${field}`);
  });
  expect(offenders).toEqual([]);
});

test('no production source file imports @reelay/testing', () => {
  const files = productionPackages().flatMap((dir) => sourceFiles(join(dir, 'src')));
  expect(files.length).toBeGreaterThan(50);
  const offenders = files.flatMap((file) => kitImports(readFileSync(file, 'utf8')).map((s) => `${relative(ROOT, file)} imports ${s}`));
  expect(offenders).toEqual([]);
});

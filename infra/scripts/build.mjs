// Compiles the four entry points to plain JavaScript with esbuild, one bundle each, so production
// runs `node <bundle>` without tsx (no TypeScript transform at startup, no module resolution
// through the workspace's TypeScript sources). Dependencies are bundled too, except those that
// read files of their own package at run time (listed in EXTERNAL): those stay in node_modules,
// next to the bundle's package, where Node finds them.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Entry (source) → bundle. Each bundle sits in its own package's dist/, beside its node_modules. */
export const ENTRIES = [
  { in: 'apps/api/src/main.ts', out: 'apps/api/dist/main.js' },
  { in: 'apps/worker/src/main.ts', out: 'apps/worker/dist/main.js' },
  { in: 'apps/cli/src/main.ts', out: 'apps/cli/dist/main.js' },
  { in: 'packages/db/src/migrate-cli.ts', out: 'packages/db/dist/migrate.js' },
];

// Packages that serve files from their own folder (the docs page and queue dashboard assets);
// all are dependencies of apps/api, so Node finds them from apps/api/dist.
const EXTERNAL = ['swagger-ui-dist', '@bull-board/ui', '@bull-board/express', '@bull-board/api'];

const started = Date.now();
for (const entry of ENTRIES) rmSync(join(ROOT, dirname(entry.out)), { recursive: true, force: true });
await Promise.all(
  ENTRIES.map((entry) =>
    build({
      absWorkingDir: ROOT,
      entryPoints: [entry.in],
      outfile: entry.out,
      bundle: true,
      platform: 'node',
      target: 'node20.19',
      format: 'cjs',
      sourcemap: 'linked',
      // Stack traces name the TypeScript source lines.
      sourcesContent: false,
      external: EXTERNAL,
      // ESM builds first: some packages' CommonJS builds are UMD wrappers whose dynamic
      // require()s a bundler cannot follow (jsonc-parser's, for one).
      mainFields: ['module', 'main'],
      logLevel: 'warning',
      legalComments: 'none',
    }),
  ),
);
console.log(`built ${ENTRIES.map((e) => e.out).join(', ')} in ${Date.now() - started} ms`);

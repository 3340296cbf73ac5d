/**
 * Import-cycle check (`pnpm run check:cycles`). Workspace packages resolve through their
 * package.json "main" to packages/<name>/src/index.ts, so a cycle through `@reelay/*` imports
 * is found like one between relative imports. Type-only imports count too.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules must not import each other in a circle, directly or through other modules or packages.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve (say, a package missing from package.json) would hide a cycle through it.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // The fixtures are lint-rule samples, read as text and never imported.
    exclude: { path: ['packages/db/src/generated/', 'tests/fixtures/', '/dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
  },
};

// Lint: ESLint's and typescript-eslint's recommended sets (syntax only; type-aware rules cost
// about six times the run time here), plus Reelay's rule that keeps SQL and Prisma in packages/db.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import reelay from './infra/lint/reelay-plugin.mjs';

export default defineConfig(
  { ignores: ['**/node_modules/', 'packages/db/src/generated/', 'coverage/', 'data/', 'bench/results/', '**/dist/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A leading underscore marks a parameter or binding kept on purpose (Express's 4-argument
      // error handler, `const { secret: _, ...rest } = x`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let self; createServer(() => self.handle()); self = new X()`: read in a callback before its one assignment.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests and benchmarks read untyped JSON answers.
    files: ['tests/**', 'bench/**', 'packages/testing/**', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The web console: ES modules the browser runs as they are (no build step).
    files: ['apps/api/console/**/*.js'],
    languageOptions: { sourceType: 'module', globals: globals.browser },
  },
  {
    files: ['apps/**'],
    plugins: { reelay },
    rules: { 'reelay/no-db-in-apps': 'error' },
  },
);

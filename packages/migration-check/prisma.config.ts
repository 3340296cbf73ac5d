import { defineConfig } from 'prisma/config';
import { MigrationAdapterFactory } from './src/adapter';

// Prisma 6 CLI config used only by the migration check (src/check.ts sets these variables).
const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run the migration check through src/check.ts`);
  return value;
};

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: required('MIGRATION_CHECK_SCHEMA'),
  migrations: { path: required('MIGRATION_CHECK_MIGRATIONS') },
  adapter: async () => new MigrationAdapterFactory(required('MIGRATION_CHECK_DATABASE_URL')),
});

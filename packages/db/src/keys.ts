import { hashApiKey, newApiKeySecret, newId } from '@reelay/core';
import type { Db } from './client';
import type { ApiKey } from './generated/prisma/client';

export type { ApiKey };

export interface NewKeyOptions {
  name: string;
  statusDialect?: 'seed' | 'openai' | null;
}

/** Creates a key; the secret is returned once and only its hash is stored. */
export async function createApiKey(db: Db, opts: NewKeyOptions): Promise<{ key: ApiKey; secret: string }> {
  const secret = newApiKeySecret();
  const key = await db.apiKey.create({
    data: {
      id: newId('key'),
      name: opts.name,
      keyHash: hashApiKey(secret),
      keyPrefix: secret.slice(0, 8),
      statusDialect: opts.statusDialect ?? null,
    },
  });
  return { key, secret };
}

export function findActiveKey(db: Db, secret: string): Promise<ApiKey | null> {
  return db.apiKey.findFirst({ where: { keyHash: hashApiKey(secret), status: 'active' } });
}

/** Makes the configured bootstrap secret a valid key (idempotent; stored hashed like any other). */
export async function ensureBootstrapKey(db: Db, secret: string): Promise<ApiKey> {
  const keyHash = hashApiKey(secret);
  return db.apiKey.upsert({
    where: { keyHash },
    update: {},
    create: { id: newId('key'), name: 'bootstrap', keyHash, keyPrefix: secret.slice(0, 8) },
  });
}

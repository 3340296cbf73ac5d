import { hashApiKey, newApiKeySecret, newId, newWebhookSecret, type KeySettings } from '@reelay/core';
import type { Db } from './client';
import type { ApiKey, Prisma } from './generated/prisma/client';

export type { ApiKey };

export interface NewKeyOptions extends KeySettings {
  name: string;
  /** Kept for callers written before the settings existed. */
  statusDialect?: 'seed' | 'openai' | null;
}

function toColumns(s: KeySettings): Prisma.ApiKeyUpdateInput {
  const data: Prisma.ApiKeyUpdateInput = {};
  if (s.name !== undefined) data.name = s.name;
  if (s.allowed_models !== undefined) data.allowedModels = s.allowed_models;
  if (s.max_concurrent !== undefined) data.maxConcurrent = s.max_concurrent;
  if (s.max_queued !== undefined) data.maxQueued = s.max_queued;
  if (s.rate_limit_per_minute !== undefined) data.rateLimitPerMinute = s.rate_limit_per_minute;
  if (s.budget_micros !== undefined) data.budgetMicros = s.budget_micros === null ? null : BigInt(s.budget_micros);
  if (s.status_dialect !== undefined) data.statusDialect = s.status_dialect;
  if (s.webhook_url !== undefined) data.webhookUrl = s.webhook_url;
  if (s.webhook_secret !== undefined) data.webhookSecret = s.webhook_secret;
  return data;
}

/**
 * Creates a key; the secret is returned once and only its hash is stored. A webhook URL given
 * without a secret gets a fresh signing secret, also returned once.
 */
export async function createApiKey(db: Db, opts: NewKeyOptions): Promise<{ key: ApiKey; secret: string }> {
  const secret = newApiKeySecret();
  const settings: KeySettings = { ...opts };
  if (opts.statusDialect !== undefined && settings.status_dialect === undefined) settings.status_dialect = opts.statusDialect;
  if (settings.webhook_url && !settings.webhook_secret) settings.webhook_secret = newWebhookSecret();
  const key = await db.apiKey.create({
    data: {
      ...(toColumns(settings) as Prisma.ApiKeyCreateInput),
      id: newId('key'),
      name: opts.name,
      keyHash: hashApiKey(secret),
      keyPrefix: secret.slice(0, 8),
    },
  });
  return { key, secret };
}

/** Changes a key's settings; null when there is no such key. */
export async function updateApiKey(db: Db, id: string, settings: KeySettings): Promise<ApiKey | null> {
  const data = toColumns(settings);
  if (settings.webhook_url && settings.webhook_secret === undefined) {
    const current = await db.apiKey.findUnique({ where: { id } });
    if (current && !current.webhookSecret) data.webhookSecret = newWebhookSecret();
  }
  const res = await db.apiKey.updateMany({ where: { id }, data: data as Prisma.ApiKeyUpdateManyMutationInput });
  return res.count === 1 ? db.apiKey.findUnique({ where: { id } }) : null;
}

/**
 * Revokes a key: authentication reads the status from Postgres, so the key's very next request
 * is refused. Its tasks already accepted run to their end. Null when there is no such key.
 */
export async function revokeApiKey(db: Db, id: string): Promise<ApiKey | null> {
  await db.apiKey.updateMany({ where: { id, status: 'active' }, data: { status: 'revoked', revokedAt: new Date() } });
  return db.apiKey.findUnique({ where: { id } });
}

export function listApiKeys(db: Db): Promise<ApiKey[]> {
  return db.apiKey.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

/** The admin view of a key: never the secret, its hash, or the webhook signing secret. */
export function presentApiKey(k: ApiKey): Record<string, unknown> {
  return {
    id: k.id,
    object: 'api_key',
    name: k.name,
    prefix: k.keyPrefix,
    status: k.status,
    allowed_models: k.allowedModels,
    max_concurrent: k.maxConcurrent,
    max_queued: k.maxQueued,
    rate_limit_per_minute: k.rateLimitPerMinute,
    budget_micros: k.budgetMicros === null ? null : Number(k.budgetMicros),
    committed_micros: Number(k.committedMicros),
    status_dialect: k.statusDialect,
    webhook_url: k.webhookUrl,
    has_webhook_secret: k.webhookSecret !== null,
    created_at: Math.floor(k.createdAt.getTime() / 1000),
    revoked_at: k.revokedAt ? Math.floor(k.revokedAt.getTime() / 1000) : null,
  };
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

export function findApiKeyById(db: Db, id: string): Promise<ApiKey | null> {
  return db.apiKey.findUnique({ where: { id } });
}

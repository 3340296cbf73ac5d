import { randomBytes } from 'node:crypto';
import type { Db } from './client';

/**
 * Returns the stored value of `name`, creating it with `generate()` on first use. Every process
 * that races here gets the same value: the insert is ON CONFLICT DO NOTHING, then all read back.
 */
export async function sharedSetting(db: Db, name: string, generate: () => string): Promise<string> {
  await db.$executeRaw`INSERT INTO settings (name, value) VALUES (${name}, ${generate()}) ON CONFLICT (name) DO NOTHING`;
  const row = await db.setting.findUniqueOrThrow({ where: { name } });
  return row.value;
}

/** REELAY_SIGNING_SECRET when set; otherwise one generated secret persisted for all processes. */
export function loadSigningSecret(db: Db, configured: string | undefined): Promise<string> {
  if (configured) return Promise.resolve(configured);
  return sharedSetting(db, 'signing_secret', () => randomBytes(32).toString('base64url'));
}

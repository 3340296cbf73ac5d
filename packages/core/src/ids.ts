import { hash, randomFillSync, randomInt } from 'node:crypto';

const ALPHABET = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 'latin1');

// CSPRNG bytes drawn 4 KB at a time, each used once: a call into the generator per id (two per
// create) showed in the API's profile. Node's randomUUID keeps the same kind of pool.
const pool = Buffer.alloc(4096);
let used = pool.length;
function randomByte(): number {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  return pool[used++]!;
}

/** Random base62 string; rejection sampling keeps every character equally likely. */
export function randomBase62(length: number): string {
  // Written into one small buffer: appending character by character made a string per character.
  const out = Buffer.allocUnsafe(length);
  for (let n = 0; n < length;) {
    const byte = randomByte();
    if (byte < 248) out[n++] = ALPHABET[byte % 62]!;
  }
  return out.toString('latin1');
}

export const newVideoId = (): string => `vid_${randomBase62(24)}`;
/** OpenAI's forms: `file-…` for files, `batch_…` for batches. */
export const newFileId = (): string => `file-${randomBase62(24)}`;
export const newBatchId = (): string => `batch_${randomBase62(24)}`;
export const isFileId = (raw: unknown): raw is string => typeof raw === 'string' && /^file-[0-9A-Za-z]{1,60}$/.test(raw);
export const newId = (prefix: string): string => `${prefix}_${randomBase62(20)}`;
export const newApiKeySecret = (): string => `rly_${randomBase62(40)}`;

/**
 * API keys are random and long, so a plain SHA-256 is the right hash (no need for a slow KDF). Done
 * on every request: the one-shot hash, not a Hash stream object each time.
 */
export const hashApiKey = (key: string): string => hash('sha256', key, 'hex');

export const SEED_MAX = 4294967295;
export const randomSeed = (): number => randomInt(0, SEED_MAX + 1);

import { createHash, randomFillSync, randomInt } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

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
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

export const newVideoId = (): string => `vid_${randomBase62(24)}`;
export const newId = (prefix: string): string => `${prefix}_${randomBase62(20)}`;
export const newApiKeySecret = (): string => `rly_${randomBase62(40)}`;

/** API keys are random and long, so a plain SHA-256 is the right hash (no need for a slow KDF). */
export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export const SEED_MAX = 4294967295;
export const randomSeed = (): number => randomInt(0, SEED_MAX + 1);

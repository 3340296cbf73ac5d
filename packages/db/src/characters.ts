import type { Db } from './client';
import type { Character } from './generated/prisma/client';

export type { Character };

export async function createCharacter(db: Db, data: Pick<Character, 'id' | 'apiKeyId' | 'name' | 'videoRef'> & { createdAt?: Date }): Promise<Character> {
  return db.character.create({ data });
}

/** A character of this key, or null: another key's character is as absent as one never made. */
export async function findCharacterForOwner(db: Db, id: string, apiKeyId: string): Promise<Character | null> {
  return db.character.findFirst({ where: { id, apiKeyId } });
}

/** The characters of this key among `ids` (names a create refers to), in no particular order. */
export async function findCharactersForOwner(db: Db, ids: string[], apiKeyId: string): Promise<Character[]> {
  if (ids.length === 0) return [];
  return db.character.findMany({ where: { id: { in: ids }, apiKeyId } });
}

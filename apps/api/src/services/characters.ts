import { Readable } from 'node:stream';
import { newId, notFound } from '@reelay/core';
import { createCharacter, findCharacterForOwner, type ApiKey, type Character } from '@reelay/db';
import { characterKeys } from '@reelay/storage';
import type { ApiDeps } from '../deps';
import type { ParsedCreateBody } from '../middleware/body';
import { resolveSource } from './source-video';

/** The character object of OpenAI's SDK (VideoCreateCharacterResponse): id, name, created_at, nothing else. */
export const presentCharacter = (c: Character): { id: string; name: string; created_at: number } => ({
  id: c.id,
  name: c.name,
  created_at: Math.floor(c.createdAt.getTime() / 1000),
});

/**
 * A character from a video: an upload (probed first) or `{id}` of a completed video of the key.
 * The video is stored under the character's own key, then the row made.
 */
export async function createCharacterFromVideo(
  deps: ApiDeps,
  key: ApiKey,
  name: string,
  video: { id: string } | null | undefined,
  upload: ParsedCreateBody['upload'],
): Promise<Character> {
  const source = await resolveSource(deps, key, video, upload);
  const id = newId('char');
  const videoRef = characterKeys.video(id);
  await deps.storage.put(videoRef, source.kind === 'video' ? deps.storage.read(source.storageKey) : Readable.from([source.data]));
  try {
    return await createCharacter(deps.db, { id, apiKeyId: key.id, name, videoRef });
  } catch (err) {
    await deps.storage.remove(videoRef).catch(() => undefined);
    throw err;
  }
}

export async function getCharacter(deps: ApiDeps, key: ApiKey, id: string): Promise<Character> {
  const character = await findCharacterForOwner(deps.db, id, key.id);
  if (!character) throw notFound('character');
  return character;
}

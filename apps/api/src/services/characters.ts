import { Readable } from 'node:stream';
import { ApiError, invalidParameter, newId, notFound } from '@reelay/core';
import { createCharacter, findCharacterForOwner, type ApiKey, type Character } from '@reelay/db';
import { characterKeys } from '@reelay/storage';
import type { ApiDeps } from '../deps';
import type { ParsedCreateBody } from '../middleware/body';
import { probeUploadedVideo } from './probe-upload';

/** The character object of OpenAI's SDK (VideoCreateCharacterResponse): id, name, created_at, nothing else. */
export const presentCharacter = (c: Character): { id: string; name: string; created_at: number } => ({
  id: c.id,
  name: c.name,
  created_at: Math.floor(c.createdAt.getTime() / 1000),
});

/** A character from an uploaded video: the video is probed first, stored, then the row made. */
export async function createCharacterFromUpload(deps: ApiDeps, key: ApiKey, name: string, upload: ParsedCreateBody['upload']): Promise<Character> {
  if (upload && upload.field !== 'video') throw new ApiError(400, 'invalid_parameter', `Unknown parameter: ${upload.field}`, upload.field);
  if (!upload) throw invalidParameter('video', 'is required: upload an MP4 file of the character (multipart)');
  if (upload.buffer.length > deps.config.REELAY_MAX_VIDEO_UPLOAD_BYTES) {
    throw new ApiError(413, 'payload_too_large', `Uploaded file video exceeds the limit of ${deps.config.REELAY_MAX_VIDEO_UPLOAD_BYTES} bytes`, 'video');
  }
  await probeUploadedVideo(deps, upload.buffer, 'video');
  const id = newId('char');
  const videoRef = characterKeys.video(id);
  await deps.storage.put(videoRef, Readable.from([upload.buffer]));
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

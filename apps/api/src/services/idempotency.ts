import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { ApiError } from '@reelay/core';
import { findTaskByIdempotencyKey, isIdempotencyKeyRace, type Task, type VideoRow } from '@reelay/db';
import type { ApiDeps } from '../deps';
import type { ParsedCreateBody } from '../middleware/body';

export interface IdempotencyClaim {
  key: string;
  requestHash: string;
}

const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted, so the same body hashes the same however its keys were ordered. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The request's Idempotency-Key header, checked (1 to 255 visible ASCII characters); undefined when absent. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.header('idempotency-key');
  if (key !== undefined && !KEY_FORMAT.test(key)) {
    throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: Idempotency-Key must be 1 to 255 visible ASCII characters', 'Idempotency-Key');
  }
  return key;
}

/** The 409 for a key already used with another request. */
export const idempotencyConflict = (what = 'a different request body; use a new key for a different request'): ApiError =>
  new ApiError(409, 'idempotency_conflict', `Idempotency-Key was already used with ${what}`, 'Idempotency-Key');

/**
 * The Idempotency-Key header and a hash of what was asked: the parsed body fields (JSON or
 * multipart) plus the uploaded image's bytes. Null when the header is absent.
 */
export function idempotencyClaim(req: Request, parsed: ParsedCreateBody): IdempotencyClaim | null {
  const key = idempotencyKeyOf(req);
  if (key === undefined) return null;
  const hash = createHash('sha256').update(canonical(parsed.body));
  if (parsed.upload) hash.update(`\nupload:${parsed.upload.field}:`).update(parsed.upload.buffer);
  return { key, requestHash: hash.digest('hex') };
}

/** The task an earlier request with this key created, or null; a different body, or a task since deleted, is a 409. */
async function findIdempotentTask(deps: ApiDeps, apiKeyId: string, claim: IdempotencyClaim): Promise<Task | null> {
  const task = await findTaskByIdempotencyKey(deps.db, apiKeyId, claim.key);
  if (task && task.requestHash !== claim.requestHash) throw idempotencyConflict();
  // The key stays bound to the video it made: a deleted video does not come back, nor is it made again.
  if (task?.deletedAt) {
    throw new ApiError(
      409,
      'idempotency_conflict',
      `Idempotency-Key was already used for video ${task.id}, which has since been deleted; use a new key to create it again`,
      'Idempotency-Key',
    );
  }
  return task;
}

/**
 * True when a create lost to a concurrent one with the same key: the unique index on
 * (api_key_id, idempotency_key), or a deadlock, which only that index can cause here (the insert
 * waits on the other row's transaction while this one holds its key's row lock).
 */
function isIdempotencyRace(err: unknown): boolean {
  return isIdempotencyKeyRace(err) || (err as { code?: string }).code === '40P01';
}

/** Creates of this process in flight, per API key and Idempotency-Key. */
const inFlight = new Map<string, Promise<unknown>>();
const RACE_ATTEMPTS = 3;

/**
 * Runs a create under an Idempotency-Key, so that of concurrent requests with one key exactly one
 * creates: requests of this process wait for the one in flight and then read its task (a replay
 * for the same body, 409 for another); a request of another process that loses the race reads the
 * winner's row the same way. `replayed` says whether the task came from an earlier request.
 */
export async function createOnce<T extends Task | VideoRow>(
  deps: ApiDeps,
  apiKeyId: string,
  claim: IdempotencyClaim,
  create: () => Promise<T>,
): Promise<{ task: T | Task; replayed: boolean }> {
  const slot = `${apiKeyId}\u0000${claim.key}`;
  for (let races = 0; ;) {
    const running = inFlight.get(slot);
    if (running) {
      await running.catch(() => undefined);
      continue; // then read what it made (or, if it failed, try ourselves)
    }
    // The slot is taken before the first await, so no other request of this process gets past here meanwhile.
    const mine = lookupOrCreate(deps, apiKeyId, claim, create);
    inFlight.set(slot, mine);
    try {
      return await mine;
    } catch (err) {
      if (!isIdempotencyRace(err)) throw err;
      const winner = await findIdempotentTask(deps, apiKeyId, claim);
      if (winner) return { task: winner, replayed: true };
      // The winner has not committed yet, or was itself rolled back: try again, a few times.
      if (++races >= RACE_ATTEMPTS) {
        throw new ApiError(503, 'service_unavailable', 'A concurrent request with this Idempotency-Key is still being decided; retry', 'Idempotency-Key', {
          'retry-after': '1',
        });
      }
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    } finally {
      if (inFlight.get(slot) === mine) inFlight.delete(slot);
    }
  }
}

async function lookupOrCreate<T extends Task | VideoRow>(
  deps: ApiDeps,
  apiKeyId: string,
  claim: IdempotencyClaim,
  create: () => Promise<T>,
): Promise<{ task: T | Task; replayed: boolean }> {
  const earlier = await findIdempotentTask(deps, apiKeyId, claim);
  if (earlier) return { task: earlier, replayed: true };
  return { task: await create(), replayed: false };
}

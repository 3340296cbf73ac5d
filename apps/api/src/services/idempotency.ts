import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { ApiError } from '@reelay/core';
import { findTaskByIdempotencyKey, isIdempotencyKeyRace, type Task } from '@reelay/db';
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
    return `{${Object.keys(obj).sort().map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The Idempotency-Key header and a hash of what was asked: the parsed body fields (JSON or
 * multipart) plus the uploaded image's bytes. Null when the header is absent.
 */
export function idempotencyClaim(req: Request, parsed: ParsedCreateBody): IdempotencyClaim | null {
  const key = req.header('idempotency-key');
  if (key === undefined) return null;
  if (!KEY_FORMAT.test(key)) {
    throw new ApiError(400, 'invalid_parameter', 'Invalid parameter: Idempotency-Key must be 1 to 255 visible ASCII characters', 'Idempotency-Key');
  }
  const hash = createHash('sha256').update(canonical(parsed.body));
  if (parsed.upload) hash.update(`\nupload:${parsed.upload.field}:`).update(parsed.upload.buffer);
  return { key, requestHash: hash.digest('hex') };
}

/** The task an earlier request with this key created, or null; a different body is a 409. */
export async function findIdempotentTask(deps: ApiDeps, apiKeyId: string, claim: IdempotencyClaim): Promise<Task | null> {
  const task = await findTaskByIdempotencyKey(deps.db, apiKeyId, claim.key);
  if (task && task.requestHash !== claim.requestHash) {
    throw new ApiError(
      409,
      'idempotency_conflict',
      'Idempotency-Key was already used with a different request body; use a new key for a different request',
      'Idempotency-Key',
    );
  }
  return task;
}

/** True for the unique-index violation a concurrent duplicate hits on (api_key_id, idempotency_key). */
export const isIdempotencyRace = isIdempotencyKeyRace;

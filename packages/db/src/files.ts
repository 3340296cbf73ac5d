import type { Db } from './client';
import type { File as StoredFile, Prisma } from './generated/prisma/client';

export type { StoredFile };

export const FILE_PURPOSES = ['batch', 'batch_output', 'vision', 'user_data'] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

export interface NewFile {
  id: string;
  apiKeyId: string;
  filename: string;
  purpose: FilePurpose;
  bytes: number;
  checksum: string;
  storageKey: string;
  createdAt?: Date;
  expiresAt?: Date | null;
  idempotencyKey?: string | null;
  requestHash?: string | null;
}

/** Records a file whose bytes are already in storage. A duplicate Idempotency-Key surfaces as Prisma's P2002. */
export function insertFile(db: Db, data: NewFile): Promise<StoredFile> {
  return db.file.create({ data: { ...data, bytes: BigInt(data.bytes) } });
}

/**
 * A key's file by id, or null: another key's, a deleted or an expired file does not exist. This is
 * the one lookup every feature that takes a `file_id` uses (batch input, input references).
 */
export async function findFileForOwner(db: Db, id: string, apiKeyId: string, now = new Date()): Promise<StoredFile | null> {
  const file = await db.file.findUnique({ where: { id } });
  if (!file || file.apiKeyId !== apiKeyId || file.deletedAt) return null;
  if (file.expiresAt && file.expiresAt.getTime() <= now.getTime()) return null;
  return file;
}

/** The file a key uploaded with this Idempotency-Key, deleted or not. */
export function findFileByIdempotencyKey(db: Db, apiKeyId: string, idempotencyKey: string): Promise<StoredFile | null> {
  return db.file.findUnique({ where: { apiKeyId_idempotencyKey: { apiKeyId, idempotencyKey } } });
}

/** One page of a key's files, newest first by default; `after` is a file id of the same key (deleted ones still mark their place). */
export async function listFiles(
  db: Db,
  q: { apiKeyId: string; purpose?: string; after?: string; limit: number; order: 'asc' | 'desc' },
): Promise<{ files: StoredFile[]; hasMore: boolean } | null> {
  const where: Prisma.FileWhereInput = { apiKeyId: q.apiKeyId, deletedAt: null, ...(q.purpose ? { purpose: q.purpose } : {}) };
  if (q.after) {
    const cursor = await db.file.findUnique({ where: { id: q.after }, select: { apiKeyId: true, createdAt: true } });
    if (!cursor || cursor.apiKeyId !== q.apiKeyId) return null;
    const cmp = q.order === 'desc' ? 'lt' : 'gt';
    where.OR = [{ createdAt: { [cmp]: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { [cmp]: q.after } }];
  }
  const rows = await db.file.findMany({ where, orderBy: [{ createdAt: q.order }, { id: q.order }], take: q.limit + 1 });
  return { files: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

/** Hides a file for good; false when it was not the key's or already deleted. */
export async function markFileDeleted(db: Db, id: string, apiKeyId: string): Promise<boolean> {
  const res = await db.file.updateMany({ where: { id, apiKeyId, deletedAt: null }, data: { deletedAt: new Date() } });
  return res.count === 1;
}

/** True for the unique-index violation of a concurrent upload with the same Idempotency-Key. */
export function isFileIdempotencyRace(err: unknown): boolean {
  const e = err as { code?: string; meta?: { modelName?: string; target?: unknown } };
  return e.code === 'P2002';
}

/** Records (or, for a finalize that runs again, re-records) a file written by Reelay itself under a fixed id. */
export function upsertFile(db: Db, data: NewFile): Promise<StoredFile> {
  const row = { ...data, bytes: BigInt(data.bytes) };
  const { id: _id, apiKeyId: _k, ...update } = row;
  return db.file.upsert({ where: { id: data.id }, create: row, update });
}

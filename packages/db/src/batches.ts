import type { Db } from './client';
import type { Batch, Prisma } from './generated/prisma/client';

export type { Batch };

/** OpenAI's batch statuses; the first three and `cancelling` are not final. */
export const BATCH_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const BATCH_FINAL: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];
export const isBatchFinal = (s: string): boolean => BATCH_FINAL.includes(s as BatchStatus);

export type NewBatch = Pick<Batch, 'id' | 'apiKeyId' | 'endpoint' | 'completionWindow' | 'inputFileId' | 'baseUrl' | 'expiresAt' | 'queuePrefix'> &
  Partial<Pick<Batch, 'idempotencyKey' | 'requestHash' | 'requestId' | 'createdAt'>> & { metadata: Prisma.InputJsonValue | null };

/** Records a new batch in `validating`. A duplicate Idempotency-Key surfaces as Prisma's P2002. */
export function insertBatch(db: Db, data: NewBatch): Promise<Batch> {
  const { metadata, ...rest } = data;
  return db.batch.create({ data: { ...rest, ...(metadata === null ? {} : { metadata }) } });
}

export function findBatchById(db: Db, id: string): Promise<Batch | null> {
  return db.batch.findUnique({ where: { id } });
}

/** A key's batch, or null (another key's batch does not exist). */
export async function findBatchForOwner(db: Db, id: string, apiKeyId: string): Promise<Batch | null> {
  const batch = await db.batch.findUnique({ where: { id } });
  return batch && batch.apiKeyId === apiKeyId ? batch : null;
}

export function findBatchByIdempotencyKey(db: Db, apiKeyId: string, idempotencyKey: string): Promise<Batch | null> {
  return db.batch.findUnique({ where: { apiKeyId_idempotencyKey: { apiKeyId, idempotencyKey } } });
}

/** A page of a key's batches, newest first; null when `after` is not one of the key's batches. */
export async function listBatches(db: Db, q: { apiKeyId: string; after?: string; limit: number }): Promise<{ batches: Batch[]; hasMore: boolean } | null> {
  const where: Prisma.BatchWhereInput = { apiKeyId: q.apiKeyId };
  if (q.after) {
    const cursor = await db.batch.findUnique({ where: { id: q.after }, select: { apiKeyId: true, createdAt: true } });
    if (!cursor || cursor.apiKeyId !== q.apiKeyId) return null;
    where.OR = [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: q.after } }];
  }
  const rows = await db.batch.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: q.limit + 1 });
  return { batches: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

/**
 * Moves a batch to `to` if it is still in one of `from`, so of two racing steps (a cancel and the
 * worker's finalize) exactly one wins. Returns whether this call made the move.
 */
export async function moveBatch(
  db: Db,
  id: string,
  from: readonly BatchStatus[],
  to: BatchStatus,
  data: Prisma.BatchUpdateManyMutationInput = {},
): Promise<boolean> {
  const res = await db.batch.updateMany({ where: { id, status: { in: [...from] } }, data: { ...data, status: to } });
  return res.count === 1;
}

export interface BatchTaskCounts {
  total: number;
  completed: number;
  failed: number;
  live: number;
}

/** Request counts straight from the batch's tasks, so they are current at every read. */
export async function countBatchTasks(db: Db, batchId: string): Promise<BatchTaskCounts> {
  const [row] = await db.$queryRaw<{ total: number; completed: number; failed: number; live: number }[]>`
    SELECT count(*)::int AS total,
      count(*) FILTER (WHERE status = 'completed')::int AS completed,
      count(*) FILTER (WHERE status = 'failed')::int AS failed,
      count(*) FILTER (WHERE status IN ('pending', 'processing'))::int AS live
    FROM tasks WHERE batch_id = ${batchId}`;
  return row ?? { total: 0, completed: 0, failed: 0, live: 0 };
}

/** Takes back a batch whose job could not be queued (Redis unreachable), as if it was never made. */
export async function discardBatch(db: Db, id: string): Promise<void> {
  await db.batch.deleteMany({ where: { id, status: 'validating' } });
}

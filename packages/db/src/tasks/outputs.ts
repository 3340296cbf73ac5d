import { newId } from '@reelay/core';
import { poolOf, type Db } from '../client';
import type { OutputVariant, TaskOutput } from '../generated/prisma/client';

export interface OutputRecord {
  index: number;
  variant: OutputVariant;
  storageKey: string;
  bytes: number;
  contentType: string;
  checksum: string;
}

/** Records a task's stored outputs in one statement; a retried finalize overwrites (unique per index and variant). */
export async function recordTaskOutputs(db: Db, taskId: string, outputs: OutputRecord[]): Promise<void> {
  await upsertOutputs(db, taskId, outputs, false);
}

/**
 * The same for files stored after the task completed (its images): written only while the task
 * is still completed and not deleted, in the same statement. False when it no longer is: the
 * caller removes what it stored, which a delete that came meanwhile could not have seen.
 */
export async function recordOutputsOfCompletedTask(db: Db, taskId: string, outputs: OutputRecord[]): Promise<boolean> {
  return upsertOutputs(db, taskId, outputs, true);
}

async function upsertOutputs(db: Db, taskId: string, outputs: OutputRecord[], onlyIfCompleted: boolean): Promise<boolean> {
  if (outputs.length === 0) return true;
  const values: unknown[] = [taskId];
  const rows = outputs.map((o) => {
    values.push(newId('out'), o.index, o.variant, o.storageKey, String(o.bytes), o.contentType, o.checksum);
    const n = values.length;
    return `($${n - 6}, $1, $${n - 5}::int, $${n - 4}::"OutputVariant", $${n - 3}, $${n - 2}::bigint, $${n - 1}, $${n})`;
  });
  const guard = onlyIfCompleted ? `WHERE EXISTS (SELECT 1 FROM tasks WHERE id = $1 AND status = 'completed' AND deleted_at IS NULL)` : '';
  const res = await poolOf(db).query(
    `INSERT INTO task_outputs (id, task_id, index, variant, storage_key, bytes, content_type, checksum)
     SELECT * FROM (VALUES ${rows.join(', ')}) AS v ${guard}
     ON CONFLICT (task_id, index, variant) DO UPDATE SET storage_key = EXCLUDED.storage_key, bytes = EXCLUDED.bytes,
       content_type = EXCLUDED.content_type, checksum = EXCLUDED.checksum`,
    values,
  );
  return (res.rowCount ?? 0) > 0;
}

/** Every stored output of a task, by index then variant. */
export function outputsOf(db: Db, taskId: string): Promise<TaskOutput[]> {
  return db.taskOutput.findMany({ where: { taskId }, orderBy: [{ index: 'asc' }, { variant: 'asc' }] });
}

/** A task's stored videos, by index. */
export function videoOutputsOf(db: Db, taskId: string): Promise<TaskOutput[]> {
  return db.taskOutput.findMany({ where: { taskId, variant: 'video' }, orderBy: { index: 'asc' } });
}

export function findTaskOutput(db: Db, taskId: string, index: number, variant: OutputVariant): Promise<TaskOutput | null> {
  return db.taskOutput.findUnique({ where: { taskId_index_variant: { taskId, index, variant } } });
}

/** Forgets a task's outputs (their files are removed by the caller, see @reelay/storage removeTaskFiles). */
export async function deleteTaskOutputs(db: Db, taskId: string): Promise<void> {
  await db.taskOutput.deleteMany({ where: { taskId } });
}

import { type TaskErrorCode, webhookEventId, type WebhookEventType } from '@reelay/core';
import {
  countBatchTasks,
  failLiveTask,
  failWaitingBatchTasks,
  findBatchById,
  findBatchWebhookDestination,
  findRunningBatchTaskIds,
  insertBatchTasks,
  moveBatch,
  type Batch,
  type BatchStatus,
} from '@reelay/db';
import { enqueueCancel, enqueueWebhook } from '@reelay/queue';
import type { WorkerContext } from '../context';
import { validateBatchFile } from './validate-batch';
import { writeBatchResults } from './write-results';

export type BatchStep = { kind: 'done' } | { kind: 'wait'; delayMs: number };

/**
 * One step of a batch, decided from its stored status (like a task's job):
 * validating → (tasks created) in_progress → finalizing → completed, or failed;
 * in_progress past its window → expired; cancelling → cancelled. Every move is guarded by the
 * status it leaves, so a cancel racing the worker, or a step run twice, moves the batch once.
 */
export async function advanceBatch(ctx: WorkerContext, batchId: string): Promise<BatchStep> {
  for (;;) {
    const batch = await findBatchById(ctx.db, batchId);
    if (!batch) return { kind: 'done' };
    switch (batch.status as BatchStatus) {
      case 'validating':
        await validate(ctx, batch);
        continue;
      case 'in_progress': {
        const counts = await countBatchTasks(ctx.db, batch.id);
        if (counts.live === 0) {
          await moveBatch(ctx.db, batch.id, ['in_progress'], 'finalizing', { finalizingAt: new Date() });
          continue;
        }
        if (batch.expiresAt.getTime() <= Date.now()) {
          await stopTasks(ctx, batch, 'batch_expired', 'The batch expired before this request ran to completion');
          await finish(ctx, batch, ['in_progress'], 'expired', { expiredAt: new Date() });
          continue;
        }
        return { kind: 'wait', delayMs: ctx.config.WORKER_BATCH_CHECK_MS };
      }
      case 'cancelling': {
        await stopTasks(ctx, batch, 'cancelled', 'Cancelled: its batch was cancelled');
        await finish(ctx, batch, ['cancelling'], 'cancelled', { cancelledAt: new Date() });
        continue;
      }
      case 'finalizing':
        await finish(ctx, batch, ['finalizing'], 'completed', { completedAt: new Date() });
        continue;
      default:
        // Final: (re)queue its event; the job id makes a repeat a no-op.
        await queueBatchEvent(ctx, batch);
        return { kind: 'done' };
    }
  }
}

async function validate(ctx: WorkerContext, batch: Batch): Promise<void> {
  const started = Date.now();
  const result = await validateBatchFile(ctx, batch);
  const validateMs = Date.now() - started;
  if (!result.ok) {
    await moveBatch(ctx.db, batch.id, ['validating'], 'failed', {
      failedAt: new Date(),
      errors: { object: 'list', data: result.errors as unknown as object[] },
    });
    return;
  }
  const outcome = await insertBatchTasks(ctx.db, batch.apiKeyId, batch.id, result.tasks);
  if (outcome.refused?.reason === 'over_budget') {
    const { reservedMicros, leftMicros } = outcome.refused;
    const message = `This batch is estimated at ${reservedMicros} micro-units but the API key has ${leftMicros} of its budget left; nothing was created`;
    await moveBatch(ctx.db, batch.id, ['validating'], 'failed', {
      failedAt: new Date(),
      errors: { object: 'list', data: [{ code: 'insufficient_quota', message, param: null, line: null }] },
    });
    return;
  }
  if (outcome.refused?.reason === 'inactive_key') {
    await moveBatch(ctx.db, batch.id, ['validating'], 'failed', {
      failedAt: new Date(),
      errors: { object: 'list', data: [{ code: 'invalid_api_key', message: 'The API key of this batch was revoked', param: null, line: null }] },
    });
    return;
  }
  if (outcome.created !== undefined) {
    ctx.logger.info({ batchId: batch.id, tasks: outcome.created, validateMs, insertMs: Date.now() - started - validateMs }, 'batch tasks created');
    ctx.wakeAdmission?.();
  }
}

/**
 * Ends what is left of a batch: tasks that never started end at once in one statement; running
 * ones go through the normal cancel path (the task fails through the state machine and a cancel
 * job stops its upstream work), so no task of the batch is left running.
 */
async function stopTasks(ctx: WorkerContext, batch: Batch, code: TaskErrorCode, message: string): Promise<void> {
  await failWaitingBatchTasks(ctx.db, batch.id, code, message);
  for (const taskId of await findRunningBatchTaskIds(ctx.db, batch.id)) {
    if (ctx.cancelsQueue) await enqueueCancel(ctx.cancelsQueue, { taskId });
    await failLiveTask(ctx.db, taskId, code, message);
  }
  ctx.wakeAdmission?.();
}

/** Writes the result files, then the final move with the final counts; the event follows on the next loop. */
async function finish(ctx: WorkerContext, batch: Batch, from: BatchStatus[], to: BatchStatus, stamp: Record<string, Date>): Promise<void> {
  const counts = await countBatchTasks(ctx.db, batch.id);
  const files = await writeBatchResults(ctx, batch, counts);
  await moveBatch(ctx.db, batch.id, from, to, {
    ...stamp,
    outputFileId: files.outputFileId,
    errorFileId: files.errorFileId,
    requestTotal: counts.total,
    requestCompleted: counts.completed,
    requestFailed: counts.failed,
  });
}

const EVENT_OF: Record<string, WebhookEventType> = {
  completed: 'batch.completed',
  failed: 'batch.failed',
  cancelled: 'batch.cancelled',
  expired: 'batch.expired',
};

async function queueBatchEvent(ctx: WorkerContext, batch: Batch): Promise<void> {
  const type = EVENT_OF[batch.status];
  if (!type) return;
  const dest = await findBatchWebhookDestination(ctx.db, batch.id);
  if (!dest?.keyWebhookUrl) return;
  await enqueueWebhook(ctx.webhooksQueue, {
    eventId: webhookEventId(batch.id, type),
    type,
    batchId: batch.id,
    target: 'key',
    createdAt: Math.floor(Date.now() / 1000),
    requestId: batch.requestId ?? undefined,
  });
}

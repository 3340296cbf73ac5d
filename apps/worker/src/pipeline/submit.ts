import { transitionTask, type Task } from '@reelay/db';
import { PermanentProviderError } from '@reelay/providers';
import type { WorkerContext } from '../context';
import { failTask } from './fail-task';
import { done, waitFor, type StepOutcome } from './outcome';

/**
 * Hands a pending task to its upstream. The upstream id is written in the same step as the
 * move to `processing`, before the job is acknowledged; a crash before that write resubmits with
 * the same idempotency key (the task id).
 */
export async function submitTask(ctx: WorkerContext, task: Task): Promise<StepOutcome> {
  const model = ctx.catalog.get(task.model);
  const target = model?.targets[0];
  const provider = target ? ctx.providers.get(target.provider) : undefined;
  if (!model || !target || !provider) {
    await failTask(ctx, task.id, 'upstream_error', `No provider is configured for model ${task.model}`);
    return done;
  }
  await ctx.db.task.update({ where: { id: task.id }, data: { submitAttempts: { increment: 1 } } });
  let upstreamId: string;
  try {
    ({ upstreamId } = await provider.submit({
      taskId: task.id,
      idempotencyKey: task.id,
      upstreamModel: target.upstreamModel,
      prompt: task.prompt,
      imagePath: task.imageRef ? ctx.storage.pathOf(task.imageRef) : null,
      imageMime: null,
      durationSeconds: task.durationSeconds,
      width: task.width,
      height: task.height,
      fps: task.fps,
      seed: Number(task.seed),
      n: task.n,
      metadata: (task.metadata ?? {}) as Record<string, unknown>,
    }));
  } catch (err) {
    if (err instanceof PermanentProviderError) {
      await failTask(ctx, task.id, err.code, err.message);
      return done;
    }
    throw err;
  }
  const moved = await transitionTask(ctx.db, task.id, 'pending', 'processing', {
    provider: provider.name,
    upstreamModel: target.upstreamModel ?? null,
    upstreamId,
    startedAt: new Date(),
  });
  if (!moved) {
    // Cancelled while we were submitting: stop the upstream work we just started.
    await provider.cancel(upstreamId).catch(() => undefined);
    await provider.release?.(upstreamId).catch(() => undefined);
    return done;
  }
  return waitFor(ctx.config.POLL_MIN_MS);
}

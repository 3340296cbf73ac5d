import { raiseProgress, type Task } from '@reelay/db';
import type { WorkerContext } from '../context';
import { failTask } from './fail-task';
import { finalizeTask } from './finalize';
import { done, nextPollDelay, waitFor, type StepOutcome } from './outcome';

/** Asks the upstream how a processing task is doing; finalizes it once it has succeeded. */
export async function pollTask(ctx: WorkerContext, task: Task): Promise<StepOutcome> {
  const provider = ctx.providers.get(task.provider);
  if (!provider || !task.upstreamId) {
    await failTask(ctx, task.id, 'upstream_error', `Provider ${task.provider} is not available to this worker`);
    return done;
  }
  const result = await provider.poll(task.upstreamId);
  await ctx.db.task.update({ where: { id: task.id }, data: { pollCount: { increment: 1 } } });
  switch (result.state) {
    case 'queued':
    case 'running':
      if (result.progress !== undefined) await raiseProgress(ctx.db, task.id, result.progress);
      return waitFor(nextPollDelay(task.pollCount, ctx.config.POLL_MIN_MS, ctx.config.POLL_MAX_MS, result.etaSeconds));
    case 'failed':
      await failTask(ctx, task.id, result.code, result.message);
      await provider.release?.(task.upstreamId).catch(() => undefined);
      return done;
    case 'succeeded':
      await finalizeTask(ctx, task, provider, result.outputs, result.producedSeconds);
      return done;
  }
}

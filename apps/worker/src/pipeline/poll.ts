import { targetKey, type TaskErrorCode } from '@reelay/core';
import { recordPoll, type Task } from '@reelay/db';
import { PermanentProviderError, RateLimitedError, type PollResult, type Provider } from '@reelay/providers';
import { gateOf, type WorkerContext } from '../context';
import { deadlineOf, deadlineSecondsOf } from './deadline';
import { failTask } from './fail-task';
import { finalizeTask } from './finalize';
import { done, jitteredBackoff, nextPollDelay, waitFor, type StepOutcome } from './outcome';

/** The target that accepted the task; tasks from before targets were recorded used the bare provider. */
export const taskTargetKey = (task: Pick<Task, 'providerTarget' | 'provider'>): string => task.providerTarget ?? targetKey({ provider: task.provider });

/**
 * Asks the target that accepted a processing task how it is doing, and schedules the next poll.
 * 429 waits for Retry-After (and pauses the target for every process); 5xx, network errors and
 * timeouts retry with jittered backoff until PROVIDER_POLL_ERROR_LIMIT in a row; past the model's
 * deadline the upstream task is cancelled and the task fails with `timeout`.
 */
export async function pollTask(ctx: WorkerContext, task: Task): Promise<StepOutcome> {
  const key = taskTargetKey(task);
  const provider = ctx.providers.get(key);
  if (!provider || !task.upstreamId) {
    await failTask(ctx, task.id, 'upstream_error', `Provider ${task.provider} is not available to this worker`);
    return done;
  }
  const model = ctx.catalog.get(task.model);
  if (Date.now() >= deadlineOf(task, model)) {
    await provider.cancel(task.upstreamId).catch(() => undefined);
    await failTask(ctx, task.id, 'timeout', `The task did not finish within ${deadlineSecondsOf(model)} s; the upstream task was cancelled`);
    await gateOf(ctx).releaseSlot(key, task.id);
    return done;
  }
  const target = ctx.providers.target(key)!;
  const gate = await gateOf(ctx).beforeRequest(key, target);
  if (!gate.ok) return waitFor(gate.retryInMs);
  if (task.nextPollAt) ctx.metrics?.pollLag(Date.now() - task.nextPollAt.getTime());

  let result: PollResult;
  try {
    result = await provider.poll(task.upstreamId);
  } catch (err) {
    if (err instanceof PermanentProviderError) {
      await endFailed(ctx, task, provider, key, err.code, err.message, err.detail);
      return done;
    }
    if (err instanceof RateLimitedError) {
      const ms = err.retryAfterMs ?? ctx.config.POLL_MIN_MS;
      await gateOf(ctx).coolDown(key, ms);
      return schedule(ctx, task, ms, false);
    }
    const errors = task.pollErrors + 1;
    ctx.logger.warn(
      { taskId: task.id, keyId: task.apiKeyId, model: task.model, target: key, attempt: errors, errorCode: 'poll_failed', err: (err as Error).message },
      'poll failed',
    );
    ctx.job?.log(`poll ${errors} in a row failed: ${(err as Error).message}`);
    if (errors >= ctx.config.PROVIDER_POLL_ERROR_LIMIT) {
      await endFailed(ctx, task, provider, key, 'upstream_error', `Gave up polling the upstream after ${errors} failed polls`, (err as Error).message);
      return done;
    }
    return schedule(ctx, task, jitteredBackoff(errors, ctx.config.POLL_MIN_MS, ctx.config.POLL_MAX_MS), true, undefined, (err as Error).message);
  }

  return settle(ctx, task, provider, key, result);
}

/**
 * Acts on what the upstream said: schedules the next poll while it works, or ends the task.
 * Also used for an outcome the upstream gave in its submit answer.
 */
export async function settle(ctx: WorkerContext, task: Task, provider: Provider, key: string, result: PollResult): Promise<StepOutcome> {
  switch (result.state) {
    case 'queued':
    case 'running': {
      const elapsedMs = Date.now() - (task.startedAt ?? task.createdAt).getTime();
      const delay =
        result.nextPollMs ??
        nextPollDelay(
          task.pollCount,
          ctx.config.POLL_MIN_MS,
          ctx.config.POLL_MAX_MS,
          result.etaSeconds,
          result.progress !== undefined ? { percent: result.progress, elapsedMs } : undefined,
        );
      const target = ctx.providers.target(key);
      if (target?.maxConcurrentTasks) await gateOf(ctx).holdSlot(key, target, task.id); // refresh the lease
      return schedule(ctx, task, delay, false, result.progress);
    }
    case 'failed':
      await endFailed(ctx, task, provider, key, result.code, result.message, result.detail);
      return done;
    case 'succeeded':
      await finalizeTask(ctx, task, provider, result.outputs, { producedSeconds: result.producedSeconds, costUsd: result.costUsd });
      await gateOf(ctx).releaseSlot(key, task.id);
      return done;
  }
}

/** Records the poll, its progress and when the next one is due in one UPDATE, then re-delays the job. */
async function schedule(ctx: WorkerContext, task: Task, delayMs: number, failedPoll: boolean, progress?: number, error?: string): Promise<StepOutcome> {
  const outcome = waitFor(delayMs);
  const nextPollAt = new Date(outcome.at);
  await recordPoll(ctx.db, task.id, { failed: failedPoll, nextPollAt, progress, error });
  // The dashboard's progress bar moves in tenths: one Redis write per step, not per poll.
  if (progress !== undefined && Math.floor(progress / 10) > Math.floor(task.progress / 10)) ctx.job?.progress(Math.min(99, Math.floor(progress)));
  return outcome;
}

async function endFailed(
  ctx: WorkerContext,
  task: Task,
  provider: Provider,
  key: string,
  code: TaskErrorCode,
  message: string,
  detail?: string,
): Promise<void> {
  await failTask(ctx, task.id, code, message, detail);
  await provider.release?.(task.upstreamId!).catch(() => undefined);
  await gateOf(ctx).releaseSlot(key, task.id);
}

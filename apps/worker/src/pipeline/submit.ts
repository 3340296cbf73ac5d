import { targetKey, type ModelSpec, type ModelTarget } from '@reelay/core';
import { chooseTarget, findCharactersForOwner, findTaskById, markTaskSubmitted, recordSubmitRound, recordTaskEvent, type Task } from '@reelay/db';
import { PermanentProviderError, RateLimitedError, upstreamWebhookUrl, type Provider, type SubmitAnswer, type SubmitRequest } from '@reelay/providers';
import type { ObjectStorage } from '@reelay/storage';
import { gateOf, routerOf, type WorkerContext } from '../context';
import { failTask } from './fail-task';
import { done, jitteredBackoff, waitFor, type StepOutcome } from './outcome';
import { deadlineOf, deadlineSecondsOf } from './deadline';
import { settle } from './poll';

/**
 * Hands a pending task to the first target that accepts it (see upstream/routing.ts for the
 * order). A target that fails to accept — 5xx, network error, timeout, 429, auth — passes the
 * task to the next one; a bad request or a content-policy refusal fails the task at once, since
 * every target would refuse it too. When no target accepts, the whole round is retried later
 * with jittered backoff, up to PROVIDER_SUBMIT_ROUNDS rounds.
 *
 * No double submit: the chosen target is written on the task before the call, and the upstream
 * id in the same update as the move to `processing`, before the job is acknowledged. A worker
 * that dies in between resubmits to the same target first with the same Idempotency-Key (the
 * task id), so an upstream that honours the key returns the task it already made.
 */
export async function submitTask(ctx: WorkerContext, task: Task): Promise<StepOutcome> {
  const characters = task.characterIds.length ? await findCharactersForOwner(ctx.db, task.characterIds, task.apiKeyId) : [];
  // Adapters read input images, source videos and character videos from files: local ones for the
  // whole round (from S3, downloads).
  const keys = [task.imageRef, task.sourceVideoRef, ...characters.map((c) => c.videoRef)];
  return withLocalFiles(ctx.storage, keys, ([imagePath, sourceVideoPath, ...characterPaths]) =>
    submitRound(ctx, task, {
      imagePath: imagePath ?? null,
      sourceVideoPath: sourceVideoPath ?? null,
      characters: characters.map((c, i) => ({ id: c.id, name: c.name, videoPath: characterPaths[i]! })),
    }),
  );
}

/** Where the task's stored inputs are on this machine during a submit round. */
interface LocalInputs {
  imagePath: string | null;
  sourceVideoPath: string | null;
  characters: { id: string; name: string; videoPath: string }[];
}

/** Runs `use` with a local path for each key (null for a null key), each file kept until it returns. */
function withLocalFiles<T>(
  storage: ObjectStorage,
  keys: (string | null)[],
  use: (paths: (string | null)[]) => Promise<T>,
  found: (string | null)[] = [],
): Promise<T> {
  if (found.length === keys.length) return use(found);
  const key = keys[found.length];
  if (!key) return withLocalFiles(storage, keys, use, [...found, null]);
  return storage.withLocalFile(key, (path) => withLocalFiles(storage, keys, use, [...found, path]));
}

async function submitRound(ctx: WorkerContext, task: Task, inputs: LocalInputs): Promise<StepOutcome> {
  const model = ctx.catalog.get(task.model);
  if (!model) {
    await failTask(ctx, task.id, 'upstream_error', `No provider is configured for model ${task.model}`);
    return done;
  }
  if (Date.now() >= deadlineOf(task, model)) {
    await failTask(ctx, task.id, 'timeout', `No upstream accepted the task within ${deadlineSecondsOf(model)} s`);
    return done;
  }
  const targets = await orderedTargets(ctx, model, task);
  let retryInMs = Infinity;
  let lastError: string | null = null;
  let onlyAuthFailures = true; // every target refused our key: retrying later will not help
  for (const target of targets) {
    const key = targetKey(target);
    const provider = ctx.providers.get(key);
    if (!provider) continue;
    const gate = await gateOf(ctx).beforeRequest(key, target);
    if (!gate.ok) {
      onlyAuthFailures = false;
      retryInMs = Math.min(retryInMs, gate.retryInMs);
      continue;
    }
    const slot = await gateOf(ctx).holdSlot(key, target, task.id);
    if (!slot.ok) {
      onlyAuthFailures = false;
      retryInMs = Math.min(retryInMs, slot.retryInMs);
      continue;
    }
    if (task.providerTarget !== key) {
      await chooseTarget(ctx.db, task.id, key, provider.name);
    }
    let answer: SubmitAnswer;
    const submitStarted = Date.now();
    try {
      const webhookUrl = upstreamWebhookUrl(ctx.config.REELAY_PUBLIC_URL, provider, task.id);
      answer = await provider.submit({ ...submitRequest(task, target, inputs), webhookUrl });
    } catch (err) {
      await gateOf(ctx).releaseSlot(key, task.id);
      if (err instanceof PermanentProviderError && err.reason !== 'auth') {
        await failTask(ctx, task.id, err.code, err.message, err.detail);
        return done;
      }
      if (!(err instanceof PermanentProviderError)) onlyAuthFailures = false;
      if (err instanceof RateLimitedError) {
        const ms = err.retryAfterMs ?? ctx.config.POLL_MIN_MS;
        await gateOf(ctx).coolDown(key, ms);
        retryInMs = Math.min(retryInMs, ms);
      }
      lastError = `${provider.name}: ${(err as Error).message}${(err as { detail?: string }).detail ? ` (${(err as { detail?: string }).detail})` : ''}`;
      const code = err instanceof PermanentProviderError ? err.code : err instanceof RateLimitedError ? 'rate_limited' : 'upstream_error';
      await recordTaskEvent(ctx.db, {
        taskId: task.id,
        kind: 'submit_failed',
        target: key,
        attempt: task.submitAttempts + 1,
        code,
        message: (err as Error).message,
      });
      const step = {
        taskId: task.id,
        keyId: task.apiKeyId,
        model: task.model,
        target: key,
        attempt: task.submitAttempts + 1,
        durationMs: Date.now() - submitStarted,
        errorCode: code,
      };
      ctx.logger.warn(step, 'submit refused; trying the next target');
      ctx.job?.log(`submit to ${key} (attempt ${step.attempt}) refused: ${code}: ${(err as Error).message}`);
      continue;
    }
    ctx.logger.info(
      {
        taskId: task.id,
        keyId: task.apiKeyId,
        model: task.model,
        target: key,
        attempt: task.submitAttempts + 1,
        upstreamId: answer.upstreamId,
        durationMs: Date.now() - submitStarted,
      },
      'task submitted',
    );
    ctx.job?.log(`submitted to ${key} (attempt ${task.submitAttempts + 1}), upstream id ${answer.upstreamId}`);
    return accepted(ctx, task, provider, key, target, answer);
  }

  if (lastError === null && Number.isFinite(retryInMs)) return waitFor(retryInMs); // only limits said "later"
  if (lastError !== null && onlyAuthFailures) {
    await failTask(ctx, task.id, 'upstream_error', 'Every upstream refused the credentials this Reelay uses for the model', lastError);
    return done;
  }
  const rounds = task.submitAttempts + 1;
  await recordSubmitRound(ctx.db, task.id, rounds);
  if (rounds >= ctx.config.PROVIDER_SUBMIT_ROUNDS) {
    await failTask(ctx, task.id, 'upstream_error', `No upstream accepted the task after ${rounds} rounds`, lastError ?? 'no target available');
    return done;
  }
  const backoff = jitteredBackoff(rounds, ctx.config.POLL_MIN_MS, ctx.config.POLL_MAX_MS);
  return waitFor(Number.isFinite(retryInMs) ? Math.max(retryInMs, backoff) : backoff);
}

async function accepted(ctx: WorkerContext, task: Task, provider: Provider, key: string, target: ModelTarget, answer: SubmitAnswer): Promise<StepOutcome> {
  const { upstreamId, result } = answer;
  const now = new Date();
  const firstPoll = waitFor(ctx.config.POLL_FIRST_MS);
  const fields = {
    provider: provider.name,
    providerTarget: key,
    upstreamModel: target.upstreamModel ?? null,
    upstreamId,
    startedAt: now,
    nextPollAt: new Date(firstPoll.at),
  };
  const moved = await markTaskSubmitted(ctx.db, task.id, fields);
  if (!moved) {
    const current = await findTaskById(ctx.db, task.id);
    // Another run of this step (a job queued again after Redis lost its data, or taken over from
    // a slow worker) got there first with the same upstream work. Go on polling it: only the run
    // that holds the job in Redis can move it on, so a stale run stops at its next step.
    if (current?.status === 'processing' && current.upstreamId === upstreamId) return waitFor(ctx.config.POLL_FIRST_MS);
    // Cancelled while we were submitting, or a second upstream task: stop the work we just started.
    await provider.cancel(upstreamId).catch(() => undefined);
    await provider.release?.(upstreamId).catch(() => undefined);
    // The concurrency slot is held per task: a task still processing keeps it.
    if (current?.status !== 'processing') await gateOf(ctx).releaseSlot(key, task.id);
    return done;
  }
  // The upstream answered with the outcome: settle it now, as a poll saying the same would.
  if (result) return settle(ctx, { ...task, ...fields, status: 'processing' }, provider, key, result);
  return firstPoll;
}

/** The router's order, with the target already written on the task (a crashed submit) first. */
async function orderedTargets(ctx: WorkerContext, model: ModelSpec, task: Task): Promise<ModelTarget[]> {
  const targets = await routerOf(ctx).order(model);
  const sticky = targets.findIndex((t) => targetKey(t) === task.providerTarget);
  return sticky > 0 ? [targets[sticky]!, ...targets.filter((_, i) => i !== sticky)] : targets;
}

function submitRequest(task: Task, target: ModelTarget, inputs: LocalInputs): SubmitRequest {
  return {
    taskId: task.id,
    idempotencyKey: task.id,
    upstreamModel: target.upstreamModel,
    prompt: task.prompt,
    imagePath: inputs.imagePath,
    imageMime: task.imageRef ? mimeOf(task.imageRef) : null,
    durationSeconds: task.durationSeconds,
    width: task.width,
    height: task.height,
    fps: task.fps,
    seed: Number(task.seed),
    n: task.n,
    metadata: (task.metadata ?? {}) as Record<string, unknown>,
    operation: task.operation as SubmitRequest['operation'],
    sourceVideoPath: inputs.sourceVideoPath,
    sourceSeconds: task.sourceSeconds,
    characters: inputs.characters,
  };
}

const mimeOf = (ref: string): string | null =>
  ({ png: 'image/png', jpeg: 'image/jpeg', jpg: 'image/jpeg', webp: 'image/webp' })[ref.split('.').pop() ?? ''] ?? null;

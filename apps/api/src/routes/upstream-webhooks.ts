import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { ApiError, isIssuedId, phaseOf, textProblem } from '@reelay/core';
import { findTaskById, findTaskByUpstreamId } from '@reelay/db';
import { wakeTask } from '@reelay/queue';
import type { ApiDeps } from '../deps';

/**
 * POST /v1/upstream-webhooks/:provider/:taskId — an upstream (Replicate, fal, Luma, Kling, MiniMax, Seedance) saying a task
 * ended; POST /v1/upstream-webhooks/:provider — the same from an upstream that calls one fixed
 * URL per account (OpenAI's project webhooks), the delivery naming the upstream task.
 *
 * No API key: the provider's signature over the raw body is the authentication, and a delivery
 * must also name the upstream task this Reelay task is waiting on. A verified delivery only
 * wakes the task's delayed job so the worker polls now; the worker's poll (not the delivery's
 * body) decides the outcome, and polling stays the safety net when deliveries are lost. Upstreams
 * that do not sign their callbacks (Luma, Kling, MiniMax, Seedance) get the same treatment: a
 * delivery naming the task's upstream id wakes it, and only the poll can end it.
 */
export function upstreamWebhooksRouter(deps: ApiDeps): Router {
  const router = Router();

  /** Runs the task's delayed job now, even one a worker holds at this moment (see wakeTask). */
  const wake = (taskId: string): Promise<void> => wakeTask(deps.tasksQueue, deps.redis, taskId);
  const limit = deps.config.REELAY_UPSTREAM_WEBHOOK_MAX_BYTES;
  const parse = express.raw({ type: () => true, limit });
  const raw = (req: Request, res: Response, next: NextFunction): void =>
    parse(req, res, (err?: unknown) =>
      next(
        (err as { type?: string } | undefined)?.type === 'entity.too.large'
          ? new ApiError(413, 'payload_too_large', `Webhook body exceeds the limit of ${limit} bytes`)
          : err,
      ),
    );

  // OpenAI-style: one URL per upstream account, the delivery names the upstream task.
  router.post('/:provider', raw, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { provider: providerName } = req.params as { provider: string };
      let registry;
      try {
        registry = deps.providers();
      } catch (err) {
        console.error(`[${req.id}] upstream webhook: providers unavailable: ${(err as Error).message}`);
        throw new ApiError(503, 'service_unavailable', 'Upstream webhooks are not available right now', null, { 'retry-after': '30' });
      }
      const candidates = registry
        .keys()
        .map((key) => ({ key, provider: registry.get(key)! }))
        .filter((c) => c.provider.name === providerName && c.provider.identifyWebhook);
      if (candidates.length === 0) throw new ApiError(404, 'not_found', `No webhook endpoint for provider ${providerName}`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      for (const { key, provider } of candidates) {
        const event = await provider.identifyWebhook!({ headers: req.headers, body });
        if (!event) continue;
        if (textProblem(event.upstreamId)) throw new ApiError(404, 'not_found', `No task is waiting on that ${providerName} task`);
        const task = await findTaskByUpstreamId(deps.db, key, event.upstreamId);
        if (!task) throw new ApiError(404, 'not_found', `No task is waiting on ${providerName} task ${event.upstreamId}`);
        if (event.terminal && task.status === 'processing') await wake(task.id);
        res.json({ received: true });
        return;
      }
      throw new ApiError(401, 'invalid_signature', `Invalid ${providerName} webhook signature`);
    } catch (err) {
      next(err);
    }
  });

  router.post('/:provider/:taskId', raw, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { provider: providerName, taskId } = req.params as { provider: string; taskId: string };
      if (!isIssuedId('vid', taskId)) throw new ApiError(404, 'not_found', `No ${providerName} task found with that id`);
      const task = await findTaskById(deps.db, taskId);
      if (!task || task.provider !== providerName) throw new ApiError(404, 'not_found', `No ${providerName} task found with id ${taskId}`);

      let provider;
      try {
        provider = task.providerTarget ? deps.providers().get(task.providerTarget) : undefined;
      } catch (err) {
        console.error(`[${req.id}] upstream webhook: providers unavailable: ${(err as Error).message}`);
        throw new ApiError(503, 'service_unavailable', 'Upstream webhooks are not available right now', null, { 'retry-after': '30' });
      }
      if (!provider?.verifyWebhook) throw new ApiError(404, 'not_found', `No ${providerName} task found with id ${taskId}`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      // A URL check (MiniMax's challenge) can arrive while the submit is still waiting for its answer.
      const challengeReply = provider.webhookChallenge?.({ headers: req.headers, body });
      if (challengeReply !== undefined) {
        res.json(challengeReply);
        return;
      }
      if (!task.upstreamId) {
        // Delivered before the worker stored the upstream id (an upstream that finished at once):
        // the provider retries, and the wake makes the worker poll right after its submit instead
        // of at the first scheduled poll. A wake only ever causes one poll; the poll decides.
        if (phaseOf(task) === 'admitted') await wake(task.id);
        throw new ApiError(503, 'service_unavailable', 'The task is still being submitted; retry later', null, { 'retry-after': '5' });
      }

      let event;
      try {
        event = await provider.verifyWebhook({ headers: req.headers, body }, task.upstreamId);
      } catch (err) {
        console.error(`[${req.id}] upstream webhook: could not verify a ${providerName} delivery: ${(err as Error).message}`);
        throw new ApiError(503, 'service_unavailable', 'The signature could not be checked right now; retry later', null, { 'retry-after': '30' });
      }
      if (!event) throw new ApiError(401, 'invalid_signature', `Invalid ${providerName} webhook signature`);

      if (event.terminal && task.status === 'processing') await wake(task.id);
      res.json({ received: true });
    } catch (err) {
      next(err);
    }
  });
  return router;
}

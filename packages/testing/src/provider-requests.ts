import type { PollResult, SubmitRequest } from '@reelay/providers';

/**
 * A submit request as the worker hands it to an adapter: a 5 s 1280x720 text-to-video at 24 fps,
 * idempotency key = task id. Adapter tests override what their case is about.
 */
export function submitRequest(over: Partial<SubmitRequest> & Pick<SubmitRequest, 'taskId'>): SubmitRequest {
  return {
    idempotencyKey: over.taskId,
    upstreamModel: undefined,
    prompt: 'A lighthouse at dusk',
    imagePath: null,
    imageMime: null,
    durationSeconds: 5,
    width: 1280,
    height: 720,
    fps: 24,
    seed: 7,
    n: 1,
    metadata: {},
    ...over,
  };
}

/** Polls an upstream task until it succeeds or fails (emulators move one step per poll). */
export async function pollUntilEnded(provider: { poll(id: string): Promise<PollResult> }, upstreamId: string, polls = 10): Promise<PollResult> {
  for (let i = 0; i < polls; i++) {
    const r = await provider.poll(upstreamId);
    if (r.state === 'succeeded' || r.state === 'failed') return r;
  }
  throw new Error(`upstream task ${upstreamId} did not end within ${polls} polls`);
}

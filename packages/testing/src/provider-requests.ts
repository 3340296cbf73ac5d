import { bytesOf } from './streams';

/**
 * A submit request as the worker hands it to an adapter (the fields of @reelay/providers'
 * SubmitRequest, typed here by shape: the providers package's tests import this kit): a 5 s
 * 1280x720 text-to-video at 24 fps, idempotency key = task id. Tests override what their case is about.
 */
export function submitRequest<T extends { taskId: string }>(over: T) {
  return {
    idempotencyKey: over.taskId,
    upstreamModel: undefined as string | undefined,
    prompt: 'A lighthouse at dusk' as string | null,
    imagePath: null as string | null,
    imageMime: null as string | null,
    durationSeconds: 5,
    width: 1280,
    height: 720,
    fps: 24,
    seed: 7,
    n: 1,
    metadata: {} as Record<string, unknown>,
    ...over,
  };
}

/** Polls an upstream task until it succeeds or fails (emulators move one step per poll). */
export async function pollUntilEnded<R extends { state: string }>(provider: { poll(id: string): Promise<R> }, upstreamId: string, polls = 10): Promise<R> {
  for (let i = 0; i < polls; i++) {
    const r = await provider.poll(upstreamId);
    if (r.state === 'succeeded' || r.state === 'failed') return r;
  }
  throw new Error(`upstream task ${upstreamId} did not end within ${polls} polls`);
}

interface PolledResult {
  state: string;
  producedSeconds?: number;
  outputs?: { video: unknown }[];
}

/**
 * Polls an upstream task until it ends: the states it went through, in order, and for a success
 * what it produced and the first output's bytes as the adapter fetches them.
 */
export async function pollToEnd<R extends PolledResult>(
  provider: { poll(id: string): Promise<R>; fetchOutput(ref: never): Promise<NodeJS.ReadableStream> },
  upstreamId: string,
  polls = 10,
): Promise<{ states: string[]; end: R; producedSeconds?: number; video?: Buffer }> {
  const states: string[] = [];
  for (let i = 0; i < polls; i++) {
    const end = await provider.poll(upstreamId);
    states.push(end.state);
    if (end.state === 'failed') return { states, end };
    if (end.state === 'succeeded') {
      const video = await bytesOf(await provider.fetchOutput(end.outputs![0]!.video as never));
      return { states, end, producedSeconds: end.producedSeconds, video };
    }
  }
  throw new Error(`upstream task ${upstreamId} did not end within ${polls} polls`);
}

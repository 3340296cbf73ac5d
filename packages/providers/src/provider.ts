import type { Readable } from 'node:stream';

/**
 * The one interface every upstream implements. The worker calls submit once (the upstream id is
 * persisted right after), then poll until a terminal state, then fetchOutput for each output.
 */
export interface SubmitRequest {
  taskId: string;
  /** Stable per task: providers that accept an idempotency key get this one. */
  idempotencyKey: string;
  upstreamModel: string | undefined;
  prompt: string | null;
  /** Local path of the validated input image, if any. */
  imagePath: string | null;
  imageMime: string | null;
  durationSeconds: number;
  width: number;
  height: number;
  fps: number;
  seed: number;
  n: number;
  metadata: Record<string, unknown>;
}

export type OutputRef = { kind: 'url'; url: string; headers?: Record<string, string> } | { kind: 'file'; path: string };

export interface PollOutput {
  index: number;
  video: OutputRef;
  thumbnail?: OutputRef;
}

export type PollResult =
  | { state: 'queued' | 'running'; progress?: number; etaSeconds?: number; queuePosition?: number }
  | { state: 'succeeded'; outputs: PollOutput[]; producedSeconds?: number }
  | { state: 'failed'; code: string; message: string };

export interface Provider {
  readonly name: string;
  submit(req: SubmitRequest): Promise<{ upstreamId: string }>;
  poll(upstreamId: string): Promise<PollResult>;
  fetchOutput(ref: OutputRef): Promise<Readable>;
  cancel(upstreamId: string): Promise<void>;
  /** Frees whatever the provider keeps for a task once its outputs are stored. */
  release?(upstreamId: string): Promise<void>;
}

/** A failure the worker must not retry (bad request, content policy, auth). */
export class PermanentProviderError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

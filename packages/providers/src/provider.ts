import type { Config } from '@reelay/config';
import type { TaskErrorCode, VideoShape } from '@reelay/core';
import type { Readable } from 'node:stream';

/**
 * The one interface every upstream implements. The worker calls submit once (the upstream id is
 * persisted right after), then poll until a terminal state, then fetchOutput for each output.
 */
export interface SubmitAnswer {
  upstreamId: string;
  result?: PollResult;
}

export interface SubmitRequest extends VideoShape {
  taskId: string;
  /** Stable per task: providers that accept an idempotency key get this one. */
  idempotencyKey: string;
  upstreamModel: string | undefined;
  prompt: string | null;
  /** Local path of the validated input image, if any. */
  imagePath: string | null;
  imageMime: string | null;
  metadata: Record<string, unknown>;
  /**
   * `edit`: re-render `sourceVideoPath` under the prompt, same duration and size. `extend`: the
   * source followed by `durationSeconds - sourceSeconds` new seconds. Only sent to adapters that
   * list the operation in PROVIDER_OPERATIONS. Absent: a plain create.
   */
  operation?: VideoOperation;
  /** Local path of the task's copy of its source MP4 (edits and extensions). */
  sourceVideoPath?: string | null;
  /** Length of that source, in seconds. */
  sourceSeconds?: number | null;
  /** Characters the request cast (only sent to adapters with the `characters` capability). */
  characters?: { id: string; name: string; videoPath: string }[];
  /** Where the upstream may call back when the task ends (only when REELAY_PUBLIC_URL is set). */
  webhookUrl?: string;
}

/** What a task does besides a plain create: both start from a source video. */
export type VideoOperation = 'create' | 'edit' | 'extend';

export type OutputRef = { kind: 'url'; url: string; headers?: Record<string, string> } | { kind: 'file'; path: string };

export interface PollOutput {
  index: number;
  video: OutputRef;
  /** Exact length of this video, only from a provider that made the file itself (no probe needed). */
  durationSeconds?: number;
  /** Upstream-made images; when absent Reelay renders them from the video with ffmpeg. */
  thumbnail?: OutputRef;
  spritesheet?: OutputRef;
}

export type PollResult =
  | {
      state: 'queued' | 'running';
      progress?: number;
      etaSeconds?: number;
      queuePosition?: number;
      /**
       * The provider's own advice for the next poll, in place of the growing interval: a local
       * queue that wakes its tasks itself (onTaskChange) needs only a steady safety-net poll.
       */
      nextPollMs?: number;
    }
  | {
      state: 'succeeded';
      outputs: PollOutput[];
      /** Seconds of video the upstream actually produced (all outputs), when it says. */
      producedSeconds?: number;
      /** What the upstream charged for the task, in USD, when it says. */
      costUsd?: number;
    }
  /** `message` may reach the client (see errors.ts); `detail` is raw text for the logs. */
  | { state: 'failed'; code: TaskErrorCode; message: string; detail?: string };

export interface Provider {
  readonly name: string;
  /**
   * `result` is set when the upstream answered the submit with the outcome already (a model that
   * finished at once): the worker settles the task without polling.
   */
  submit(req: SubmitRequest): Promise<SubmitAnswer>;
  poll(upstreamId: string): Promise<PollResult>;
  fetchOutput(ref: OutputRef): Promise<Readable>;
  cancel(upstreamId: string): Promise<void>;
  /**
   * For providers that learn on their own, without a poll, that a task may have moved on (a local
   * render ended, a render slot freed for a queued task): `listener` gets the Reelay task id and
   * the worker polls that task at once instead of at its scheduled time.
   */
  onTaskChange?(listener: (taskId: string) => void): void;
  /** Frees whatever the provider keeps for a task once its outputs are stored. */
  release?(upstreamId: string): Promise<void>;
  /**
   * Upstream ids the provider keeps local state for (files, folders) untouched for `olderThanMs`:
   * the leftovers sweep releases those whose task is no longer live (a worker killed between a
   * task's end and its release).
   */
  heldUpstreamIds?(olderThanMs: number): Promise<string[]>;
  /**
   * Checks an upstream callback about the task whose upstream id is `upstreamId`. Returns null
   * when the signature does not verify (forged, replayed, signed with another key) or the
   * delivery is about another upstream task.
   */
  verifyWebhook?(req: UpstreamWebhookRequest, upstreamId: string): Promise<UpstreamWebhookEvent | null>;
  /**
   * For upstreams that call one fixed URL per account (OpenAI's project webhooks) rather than a
   * URL given per task: checks the signature and says which upstream task the delivery is about.
   */
  identifyWebhook?(req: UpstreamWebhookRequest): Promise<(UpstreamWebhookEvent & { upstreamId: string }) | null>;
  /**
   * For upstreams that check a callback URL before using it (MiniMax posts `{challenge}` and
   * expects it echoed): the JSON to answer such a request with, or undefined when the delivery
   * is not one. Asked before anything else, since the check can come before the submit answers.
   */
  webhookChallenge?(req: UpstreamWebhookRequest): unknown;
}

export interface UpstreamWebhookRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The raw bytes as received: signatures cover them exactly. */
  body: Buffer;
}

export interface UpstreamWebhookEvent {
  /** True when the upstream says the task ended (succeeded, failed or cancelled). */
  terminal: boolean;
}

/**
 * What an adapter's factory receives: one instance is built per distinct catalog target
 * (adapter + base URL + credentials). `apiKey` is the secret read from the environment variable
 * the target names; it lives only in this instance, never in a job, a row or a log line.
 */
export interface ProviderInit {
  /** Stable id of the target (`targetKey` in @reelay/core), stored on every task it accepts. */
  targetKey: string;
  /** The catalog's baseUrl, or undefined (the adapter then uses its documented default). */
  baseUrl: string | undefined;
  apiKey: string | undefined;
  /** Upper bound for one upstream HTTP call (PROVIDER_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** The target's `options` from the catalog (adapter-specific; validate them in the factory). */
  options: Record<string, unknown>;
  config: Config;
}

export type ProviderFactory = (init: ProviderInit) => Provider;

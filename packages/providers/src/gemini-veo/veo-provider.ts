import type { Readable } from 'node:stream';
import { downloadStream } from '../download';
import { PermanentProviderError, RateLimitedError, errorForStatus, parseRetryAfter, rawDetail } from '../errors';
import { JsonApi, type UpstreamResponse } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest } from '../provider';
import { readInputImage } from '../request-mapping';
import type { HttpAdapterOptions } from '../adapter-kit';

/**
 * Google Gemini API Veo (https://ai.google.dev/gemini-api/docs/video): a long-running
 * `predictLongRunning` operation, polled by name until `done`. upstreamModel is the model id,
 * e.g. "veo-3.1-generate-preview", "veo-3.0-fast-generate-001", "veo-2.0-generate-001".
 *
 * Sizes map onto Veo's aspect ratio + resolution pairs; anything Veo cannot render (another size,
 * duration or frame rate, too many samples) is refused before any call, with a permanent
 * invalid_request error that names what the model accepts.
 *
 * No double submit: the Gemini API accepts no idempotency key and has no upstream webhooks. The
 * operation name is stored right after this call returns; a crash in between leaves an operation
 * that finishes unobserved (billed). Its video is kept by Google for two days only.
 */
export const DEFAULT_VEO_BASE_URL = 'https://generativelanguage.googleapis.com';

export type VeoOptions = HttpAdapterOptions;

interface Limits {
  durations: (d: number) => boolean;
  durationText: string;
  resolutions: string[];
  /** Resolutions above 720p need an 8 s clip. */
  highResNeeds8s: boolean;
  maxSamples: number;
  sendsResolution: boolean;
}

/** What each Veo generation accepts on the Gemini API (24 fps, 16:9 or 9:16 throughout). */
export function veoLimits(model: string): Limits {
  if (model.startsWith('veo-2')) {
    return {
      durations: (d) => Number.isInteger(d) && d >= 5 && d <= 8,
      durationText: 'between 5 and 8 seconds (whole seconds)',
      resolutions: ['720p'],
      highResNeeds8s: false,
      maxSamples: 2,
      sendsResolution: false,
    };
  }
  const v31 = model.startsWith('veo-3.1');
  return {
    durations: (d) => [4, 6, 8].includes(d),
    durationText: '4, 6 or 8 seconds',
    resolutions: v31 ? ['720p', '1080p', '4k'] : ['720p', '1080p'],
    highResNeeds8s: true,
    maxSamples: 1,
    sendsResolution: true,
  };
}

const SIZES: Record<string, { aspectRatio: string; resolution: string }> = {
  '1280x720': { aspectRatio: '16:9', resolution: '720p' },
  '720x1280': { aspectRatio: '9:16', resolution: '720p' },
  '1920x1080': { aspectRatio: '16:9', resolution: '1080p' },
  '1080x1920': { aspectRatio: '9:16', resolution: '1080p' },
  '3840x2160': { aspectRatio: '16:9', resolution: '4k' },
  '2160x3840': { aspectRatio: '9:16', resolution: '4k' },
};

const refuse = (model: string, what: string): PermanentProviderError => new PermanentProviderError('invalid_request', `veo: ${model} cannot render ${what}`);

/** The request body for a task, or a permanent error naming what the model accepts instead. */
export function veoRequestBody(model: string, req: SubmitRequest, image: { bytes: Buffer; mime: string } | null): Record<string, unknown> {
  const limits = veoLimits(model);
  const size = `${req.width}x${req.height}`;
  const mapped = SIZES[size];
  const allowedSizes = Object.entries(SIZES)
    .filter(([, v]) => limits.resolutions.includes(v.resolution))
    .map(([k]) => k);
  if (!mapped || !limits.resolutions.includes(mapped.resolution)) throw refuse(model, `size ${size}: it renders ${allowedSizes.join(', ')}`);
  if (!limits.durations(req.durationSeconds)) throw refuse(model, `${req.durationSeconds} s: duration must be ${limits.durationText}`);
  if (limits.highResNeeds8s && mapped.resolution !== '720p' && req.durationSeconds !== 8) {
    throw refuse(model, `${mapped.resolution} at ${req.durationSeconds} s: ${mapped.resolution} needs an 8 second clip`);
  }
  if (req.fps !== 24) throw refuse(model, `${req.fps} fps: Veo renders 24 fps only`);
  if (req.n > limits.maxSamples) throw refuse(model, `${req.n} videos per task: at most ${limits.maxSamples}`);
  if (!req.prompt && !image) throw refuse(model, 'a task without a prompt or an image');

  const m = req.metadata;
  const parameters: Record<string, unknown> = {
    aspectRatio: mapped.aspectRatio,
    durationSeconds: req.durationSeconds,
    ...(limits.sendsResolution ? { resolution: mapped.resolution } : {}),
    seed: req.seed,
    ...(req.n > 1 ? { sampleCount: req.n } : {}),
    ...(typeof m.negative_prompt === 'string' ? { negativePrompt: m.negative_prompt } : {}),
    ...(typeof m.person_generation === 'string' ? { personGeneration: m.person_generation } : {}),
  };
  const instance: Record<string, unknown> = {};
  if (req.prompt) instance.prompt = req.prompt;
  if (image) instance.image = { bytesBase64Encoded: image.bytes.toString('base64'), mimeType: image.mime };
  return { instances: [instance], parameters };
}

interface GoogleError {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<{ '@type'?: string; reason?: string; retryDelay?: string }>;
}

interface Operation {
  name?: string;
  done?: boolean;
  error?: { code?: number; message?: string };
  response?: {
    generateVideoResponse?: { generatedSamples?: Array<{ video?: { uri?: string } }>; raiMediaFilteredCount?: number; raiMediaFilteredReasons?: string[] };
  };
}

export class VeoProvider implements Provider {
  readonly name: string;
  /** Calls go through send() and read(): Google's errors need more than the JsonApi reader sees. */
  private readonly api: JsonApi;

  constructor(private readonly opts: VeoOptions) {
    this.name = opts.name ?? 'gemini-veo';
    const headers = { 'x-goog-api-key': opts.apiKey };
    this.api = new JsonApi(
      (opts.baseUrl ?? DEFAULT_VEO_BASE_URL).replace(/\/+$/, ''),
      () => headers,
      opts.requestTimeoutMs ?? 30_000,
      () => ({ message: 'veo' }),
    );
  }

  /** From a catalog target: `credentials` names the variable holding the Gemini API key. */
  static fromInit(init: ProviderInit): VeoProvider {
    if (!init.apiKey) throw new Error('model catalog: a gemini-veo target needs `credentials` (the variable holding the Gemini API key)');
    return new VeoProvider({ apiKey: init.apiKey, baseUrl: init.baseUrl, requestTimeoutMs: init.requestTimeoutMs });
  }

  private async call<T>(method: 'GET' | 'POST', path: string, json?: unknown): Promise<T> {
    return this.read<T>(await this.api.send(method, path, json));
  }

  /** Google's error shape: {"error": {code, message, status, details}}; an invalid key is a 400 with reason API_KEY_INVALID. */
  private async read<T>(res: UpstreamResponse): Promise<T> {
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    if (res.status >= 200 && res.status < 300) return body as T;
    const err = ((body as { error?: GoogleError } | null)?.error ?? {}) as GoogleError;
    const message = `veo: ${err.message ?? `HTTP ${res.status}`}`;
    const detail = rawDetail(body);
    const header = res.headers['retry-after'];
    if (res.status === 429) {
      const delay = err.details?.find((d) => d.retryDelay)?.retryDelay;
      const fromDetails = delay && /^\d+(\.\d+)?s$/.test(delay) ? Math.round(parseFloat(delay) * 1000) : undefined;
      throw new RateLimitedError(message, parseRetryAfter(Array.isArray(header) ? header[0] : header) ?? fromDetails, detail);
    }
    if (err.details?.some((d) => d.reason === 'API_KEY_INVALID')) throw new PermanentProviderError('auth', message, res.status, undefined, detail);
    throw errorForStatus(res.status, message, { retryAfter: Array.isArray(header) ? header[0] : header, detail });
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    const model = req.upstreamModel;
    if (!model || !/^[a-z0-9.-]+$/.test(model))
      throw new PermanentProviderError('other', 'veo: the catalog target needs an upstreamModel like "veo-3.1-generate-preview"');
    const body = veoRequestBody(model, req, await readInputImage(req));
    const op = await this.call<Operation>('POST', `/v1beta/models/${model}:predictLongRunning`, body);
    if (!op?.name) throw new PermanentProviderError('other', 'veo: the answer carried no operation name');
    return { upstreamId: op.name };
  }

  private path(upstreamId: string): string {
    if (!/^models\/[a-z0-9.-]+\/operations\/[A-Za-z0-9_-]+$/.test(upstreamId))
      throw new PermanentProviderError('other', `veo: "${upstreamId}" is not an operation name`);
    return `/v1beta/${upstreamId}`;
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const op = await this.call<Operation>('GET', this.path(upstreamId));
    if (!op.done) return { state: 'running' };
    if (op.error) {
      if (op.error.code === 1) return { state: 'failed', code: 'cancelled', message: 'veo: the operation was cancelled' };
      return {
        state: 'failed',
        code: op.error.code === 3 ? 'invalid_request' : 'upstream_error',
        message: `veo: ${op.error.message ?? `error code ${op.error.code}`}`,
      };
    }
    const r = op.response?.generateVideoResponse;
    const uris = (r?.generatedSamples ?? []).map((s) => s.video?.uri).filter((u): u is string => typeof u === 'string');
    if (uris.length === 0) {
      if (r?.raiMediaFilteredCount) {
        return {
          state: 'failed',
          code: 'content_policy_violation',
          message: `veo: ${(r.raiMediaFilteredReasons ?? []).join(' ') || 'the video was blocked by safety filters'}`,
        };
      }
      return { state: 'failed', code: 'upstream_error', message: 'veo: the operation finished without a video' };
    }
    // The links need the API key; the key goes only to the API's own origin (see fetchOutput).
    return { state: 'succeeded', outputs: uris.map((url, index) => ({ index, video: { kind: 'url' as const, url } })) };
  }

  async fetchOutput(ref: OutputRef): Promise<Readable> {
    if (ref.kind !== 'url') throw new PermanentProviderError('other', 'veo: outputs are URLs');
    const sameOrigin = new URL(ref.url).origin === new URL(this.api.base).origin;
    return downloadStream('veo', ref.url, {
      headers: sameOrigin ? { 'x-goog-api-key': this.opts.apiKey } : {},
      credentialHeaders: ['x-goog-api-key'],
      maxBytes: this.opts.maxDownloadBytes ?? 4 * 1024 ** 3,
      timeoutMs: this.opts.downloadTimeoutMs ?? 60_000,
    });
  }

  /** google.longrunning cancel: best effort; an upstream that cannot cancel (404/501) is left to finish. */
  async cancel(upstreamId: string): Promise<void> {
    try {
      await this.call('POST', `${this.path(upstreamId)}:cancel`, {});
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404 || status === 501) return;
      throw err;
    }
  }
}

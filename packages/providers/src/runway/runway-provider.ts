import type { Readable } from 'node:stream';
import { percentOf, requireApiKey, stringOption, type HttpAdapterOptions } from '../adapter-kit';
import { downloadOutput } from '../download';
import { PermanentProviderError } from '../errors';
import { JsonApi } from '../http';
import type { OutputRef, PollResult, Provider, ProviderInit, SubmitRequest } from '../provider';
import { dataUri, readInputImage } from '../request-mapping';

/**
 * Runway's developer API (https://docs.dev.runwayml.com/api/): `POST /v1/text_to_video` or
 * `/v1/image_to_video` makes a task, `GET /v1/tasks/{id}` reports it, `DELETE /v1/tasks/{id}`
 * cancels a running task (or deletes a finished one). Every call carries `X-Runway-Version`.
 *
 * upstreamModel is Runway's model id ("gen4.5", "gen4_turbo", "veo3.1", …). The size is sent as
 * Runway's ratio ("1280:720"), the duration in whole seconds. Request bodies are strict (unknown
 * fields are a 400), so Reelay's extended parameters are not passed on.
 *
 * THROTTLED means Runway accepted the task and holds it until the account's per-model
 * concurrency frees up: Reelay reports it as queued and keeps polling. 429 means Runway refused
 * the create (the daily task limit): the worker waits and tries again or another target.
 *
 * No double submit and no callbacks: Runway accepts no idempotency key and documents no webhook.
 * The task id is stored right after the create answers; a crash in that window leaves a task
 * nobody polls (visible in Runway's request history).
 */
export interface RunwayOptions extends HttpAdapterOptions {
  /** The X-Runway-Version the adapter was written against. */
  apiVersion?: string;
}

export const RUNWAY_API_VERSION = '2024-11-06';

interface RunwayTask {
  id: string;
  status: 'PENDING' | 'THROTTLED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  progress?: number | null;
  output?: string[] | null;
  failure?: string | null;
  failureCode?: string | null;
}

/** Runway errors: `{error: "…", issues?: [{path: [...], message}]}` (the issues name the fields). */
function readError(body: unknown, status: number): { message: string } {
  const b = (body && typeof body === 'object' ? body : {}) as { error?: unknown; issues?: Array<{ path?: unknown[]; message?: unknown }> };
  const head = typeof b.error === 'string' ? b.error : typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${status}`;
  const issues = Array.isArray(b.issues) ? b.issues.map((i) => `${Array.isArray(i.path) ? i.path.join('.') : ''}: ${String(i.message ?? '')}`) : [];
  return { message: `runway: ${[head, ...issues].join('; ')}` };
}

export class RunwayProvider implements Provider {
  readonly name: string;
  private readonly api: JsonApi;

  constructor(private readonly opts: RunwayOptions) {
    this.name = opts.name ?? 'runway';
    const headers = { authorization: `Bearer ${opts.apiKey}`, 'x-runway-version': opts.apiVersion ?? RUNWAY_API_VERSION };
    this.api = new JsonApi((opts.baseUrl ?? 'https://api.dev.runwayml.com').replace(/\/+$/, ''), () => headers, opts.requestTimeoutMs ?? 30_000, readError);
  }

  /** From a catalog target: `credentials` names the API secret's variable; options.apiVersion pins another X-Runway-Version. */
  static fromInit(init: ProviderInit): RunwayProvider {
    return new RunwayProvider({
      apiKey: requireApiKey(init, 'runway', 'the Runway API secret'),
      baseUrl: init.baseUrl,
      apiVersion: stringOption(init, 'runway', 'apiVersion'),
      requestTimeoutMs: init.requestTimeoutMs,
    });
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    if (!req.upstreamModel) throw new PermanentProviderError('other', 'runway: the catalog target needs an upstreamModel (e.g. "gen4.5")');
    if (req.n > 1) throw new PermanentProviderError('invalid_request', 'runway: a task makes one video (n must be 1)');
    const image = await readInputImage(req);
    const body: Record<string, unknown> = {
      model: req.upstreamModel,
      ...(req.prompt ? { promptText: req.prompt } : {}),
      ...(image ? { promptImage: dataUri(image) } : {}),
      ratio: `${req.width}:${req.height}`,
      duration: Math.round(req.durationSeconds),
      seed: req.seed,
    };
    const task = await this.api.call<{ id?: unknown } | null>('POST', image ? '/v1/image_to_video' : '/v1/text_to_video', body);
    if (typeof task?.id !== 'string' || !task.id) throw new PermanentProviderError('other', 'runway: the create answer carried no task id');
    return { upstreamId: task.id };
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const t = await this.api.call<RunwayTask>('GET', `/v1/tasks/${encodeURIComponent(upstreamId)}`);
    switch (t.status) {
      case 'PENDING':
      case 'THROTTLED':
        return { state: 'queued' };
      case 'RUNNING':
        return { state: 'running', progress: percentOf(t.progress) };
      case 'SUCCEEDED': {
        const urls = (t.output ?? []).filter((u): u is string => typeof u === 'string');
        if (urls.length === 0) return { state: 'failed', code: 'upstream_error', message: 'runway: the task succeeded without an output' };
        return { state: 'succeeded', outputs: urls.map((url, index) => ({ index, video: { kind: 'url', url } })) };
      }
      case 'CANCELLED':
        return { state: 'failed', code: 'cancelled', message: 'runway: the task was cancelled' };
      case 'FAILED': {
        // failureCode is machine-readable: SAFETY.* are moderation refusals of the input or output.
        const code = t.failureCode ?? '';
        const message = `runway: ${t.failure ?? 'the task failed'}${code ? ` (${code})` : ''}`;
        return { state: 'failed', code: /^SAFETY/i.test(code) ? 'content_policy_violation' : 'upstream_error', message };
      }
      default:
        throw new PermanentProviderError('other', `runway: unknown task status ${JSON.stringify(t.status)}`);
    }
  }

  fetchOutput(ref: OutputRef): Promise<Readable> {
    // Output URLs are pre-signed (they expire in a day or two): Runway's key is never sent there.
    return downloadOutput('runway', ref, this.opts);
  }

  async cancel(upstreamId: string): Promise<void> {
    const res = await this.api.send('DELETE', `/v1/tasks/${encodeURIComponent(upstreamId)}`);
    if (res.status === 404) return void (await res.body.dump()); // already deleted: nothing to stop
    await this.api.read(res);
  }
}

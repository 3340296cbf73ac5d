import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FormData } from 'undici';
import { percentOf } from '../adapter-kit';
import { downloadOutput } from '../download';
import { PermanentProviderError } from '../errors';
import { JsonApi, readJson, upstreamRequest } from '../http';
import type { OutputRef, PollOutput, PollResult, Provider, ProviderInit, SubmitRequest } from '../provider';
import { readInputImage } from '../request-mapping';
import { ProgressSocket } from './progress-socket';
import { fillWorkflow, placeholdersOf, workflowFromOptions, type Workflow } from './workflow-template';

/**
 * A self-hosted ComfyUI server (https://docs.comfy.org/development/comfyui-server/comms_routes):
 * the catalog target's workflow template (options.workflow or options.workflowFile, API format)
 * is filled with the task's prompt, seed, size and frame count and queued with `POST /prompt`;
 * `GET /history/{id}` holds it once it ran (outputs per node: filename, subfolder, type), `GET
 * /queue` says whether it waits or runs, `GET /view` serves the files. Cancel interrupts it
 * (`POST /interrupt`) while it runs, or takes it off the queue (`POST /queue {delete}`). Progress
 * comes from the websocket (see ProgressSocket).
 *
 * Idempotent submit: the prompt id is derived from the task id and sent with the prompt, so a
 * resubmit after a crash finds the prompt already queued or done and queues nothing new.
 *
 * No auth by default; when the target names `credentials`, the secret is sent as a Bearer token
 * (for a ComfyUI behind an authenticating proxy). No callbacks: ComfyUI has none.
 */
export interface ComfyUIOptions {
  workflow: Workflow;
  /** The node whose outputs are the result; the first video any node saved otherwise. */
  outputNode?: string;
  baseUrl?: string;
  apiKey?: string;
  /** Listen on the websocket for progress (default true). */
  progress?: boolean;
  requestTimeoutMs?: number;
  downloadTimeoutMs?: number;
  maxDownloadBytes?: number;
  name?: string;
}

interface HistoryEntry {
  outputs?: Record<string, Record<string, unknown>>;
  status?: { status_str?: string; completed?: boolean; messages?: Array<[string, Record<string, unknown>]> };
}
interface QueueState {
  queue_running?: Array<[number, string, ...unknown[]]>;
  queue_pending?: Array<[number, string, ...unknown[]]>;
}
interface OutputFile {
  filename: string;
  subfolder?: string;
  type?: string;
}

const VIDEO = /\.(mp4|webm|mov|mkv|gif)$/i;

/** /prompt refusals: `{error: {message, details}, node_errors: {id: {class_type, errors: [{message, details}]}}}`. */
function readError(body: unknown, status: number): { message: string } {
  const b = (body && typeof body === 'object' ? body : {}) as {
    error?: unknown;
    node_errors?: Record<string, { class_type?: string; errors?: Array<{ message?: string; details?: string }> }>;
  };
  const e = b.error as { message?: unknown; details?: unknown } | string | undefined;
  const head =
    typeof e === 'string'
      ? e
      : typeof e?.message === 'string'
        ? `${e.message}${typeof e.details === 'string' && e.details ? `: ${e.details}` : ''}`
        : typeof body === 'string' && body
          ? body.slice(0, 300)
          : `HTTP ${status}`;
  const nodes = Object.entries(b.node_errors ?? {}).flatMap(([id, n]) =>
    (n.errors ?? []).map((x) => `node ${id} (${n.class_type ?? '?'}): ${x.message ?? ''}${x.details ? `: ${x.details}` : ''}`),
  );
  return { message: `comfyui: ${[head, ...nodes].join('; ')}` };
}

/** A stable UUID for a task (ComfyUI takes a caller-chosen prompt_id in UUID form). */
export function promptIdFor(key: string): string {
  const h = createHash('sha256').update(`reelay-comfyui:${key}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class ComfyUIProvider implements Provider {
  readonly name: string;
  private readonly base: string;
  private readonly api: JsonApi;
  private readonly auth: Record<string, string>;
  private readonly clientId: string;
  private readonly socket: ProgressSocket | undefined;
  private readonly usesImage: boolean;

  constructor(private readonly opts: ComfyUIOptions) {
    this.name = opts.name ?? 'comfyui';
    this.base = (opts.baseUrl ?? 'http://127.0.0.1:8188').replace(/\/+$/, '');
    this.auth = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};
    this.api = new JsonApi(this.base, () => this.auth, opts.requestTimeoutMs ?? 30_000, readError);
    this.clientId = `reelay-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    this.usesImage = placeholdersOf(opts.workflow).has('image');
    if (opts.progress !== false)
      this.socket = new ProgressSocket(`${this.base.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(this.clientId)}`, this.auth);
  }

  /** From a catalog target: options.workflow / workflowFile (required), outputNode, progress; `credentials` optional. */
  static fromInit(init: ProviderInit): ComfyUIProvider {
    const { workflow, outputNode } = workflowFromOptions(init.options);
    const progress = init.options.progress;
    if (progress !== undefined && typeof progress !== 'boolean') throw new Error('model catalog: comfyui options.progress must be true or false');
    return new ComfyUIProvider({ workflow, outputNode, progress, baseUrl: init.baseUrl, apiKey: init.apiKey, requestTimeoutMs: init.requestTimeoutMs });
  }

  async submit(req: SubmitRequest): Promise<{ upstreamId: string }> {
    if (req.n > 1) throw new PermanentProviderError('invalid_request', 'comfyui: a workflow run makes one video (n must be 1)');
    const image = await readInputImage(req);
    if (image && !this.usesImage) throw new PermanentProviderError('invalid_request', "comfyui: this model's workflow takes no input image");
    if (!image && this.usesImage) throw new PermanentProviderError('invalid_request', "comfyui: this model's workflow needs an input image");
    const promptId = promptIdFor(req.idempotencyKey);
    if (await this.known(promptId)) return { upstreamId: promptId };

    const frames = Math.max(1, Math.round(req.durationSeconds * req.fps));
    const workflow = fillWorkflow(this.opts.workflow, {
      prompt: req.prompt ?? '',
      negative_prompt: typeof req.metadata.negative_prompt === 'string' ? req.metadata.negative_prompt : '',
      seed: req.seed,
      width: req.width,
      height: req.height,
      frames,
      fps: req.fps,
      duration: req.durationSeconds,
      image: image ? await this.upload(image, promptId) : '',
    });
    await this.socket?.watch(promptId);
    try {
      await this.api.call('POST', '/prompt', { prompt: workflow, client_id: this.clientId, prompt_id: promptId });
    } catch (err) {
      this.socket?.unwatch(promptId);
      throw err;
    }
    return { upstreamId: promptId };
  }

  /** Whether ComfyUI already has this prompt (queued, running or in its history). */
  private async known(promptId: string): Promise<boolean> {
    const q = await this.api.call<QueueState>('GET', '/queue');
    if ([...(q.queue_running ?? []), ...(q.queue_pending ?? [])].some((item) => item[1] === promptId)) return true;
    return Boolean(await this.history(promptId));
  }

  /** Stores the input image in ComfyUI's input folder (POST /upload/image); returns the name a LoadImage node takes. */
  private async upload(image: { bytes: Buffer; mime: string }, promptId: string): Promise<string> {
    const form = new FormData();
    form.append('image', new Blob([image.bytes], { type: image.mime }), `reelay-${promptId}.${image.mime.split('/')[1] ?? 'png'}`);
    form.append('overwrite', 'true');
    const res = await upstreamRequest({
      method: 'POST',
      url: `${this.base}/upload/image`,
      headers: { ...this.auth },
      body: form,
      timeoutMs: this.opts.requestTimeoutMs ?? 30_000,
    });
    const saved = await readJson<{ name?: unknown; subfolder?: unknown }>(res, readError);
    if (typeof saved.name !== 'string') throw new PermanentProviderError('other', 'comfyui: the upload answer carried no file name');
    return typeof saved.subfolder === 'string' && saved.subfolder ? `${saved.subfolder}/${saved.name}` : saved.name;
  }

  private async history(promptId: string): Promise<HistoryEntry | undefined> {
    const h = await this.api.call<Record<string, HistoryEntry> | null>('GET', `/history/${encodeURIComponent(promptId)}`);
    return h?.[promptId];
  }

  async poll(upstreamId: string): Promise<PollResult> {
    const entry = await this.history(upstreamId);
    if (entry) {
      const result = this.ended(upstreamId, entry);
      if (result) {
        this.socket?.unwatch(upstreamId);
        return result;
      }
    }
    const q = await this.api.call<QueueState>('GET', '/queue');
    if ((q.queue_running ?? []).some((item) => item[1] === upstreamId)) return { state: 'running', progress: percentOf(this.socket?.of(upstreamId)) };
    const pending = (q.queue_pending ?? []).slice().sort((a, b) => a[0] - b[0]);
    const at = pending.findIndex((item) => item[1] === upstreamId);
    if (at >= 0) return { state: 'queued', queuePosition: at + 1 };
    // Not queued and not running: it may have finished between the two reads.
    const late = entry ?? (await this.history(upstreamId));
    const result = late && this.ended(upstreamId, late);
    this.socket?.unwatch(upstreamId);
    return (
      result || { state: 'failed', code: 'upstream_error', message: 'comfyui: the server no longer has this prompt (restarted, or its queue was cleared)' }
    );
  }

  /** The outcome a history entry records, or undefined while it is still being written. */
  private ended(promptId: string, entry: HistoryEntry): PollResult | undefined {
    const messages = entry.status?.messages ?? [];
    const error = messages.find(([kind]) => kind === 'execution_error')?.[1];
    if (messages.some(([kind]) => kind === 'execution_interrupted'))
      return { state: 'failed', code: 'cancelled', message: 'comfyui: the prompt was interrupted' };
    if (entry.status?.status_str === 'error' || error) {
      const what = error
        ? `${String(error.node_type ?? 'a node')} failed: ${String(error.exception_message ?? 'execution error').trim()}`
        : 'the workflow failed';
      return { state: 'failed', code: 'upstream_error', message: `comfyui: ${what}` };
    }
    if (entry.status && entry.status.completed === false) return undefined;
    const outputs = this.outputsOf(entry);
    if (outputs.length === 0) {
      return {
        state: 'failed',
        code: 'upstream_error',
        message: `comfyui: prompt ${promptId} finished without a video output${this.opts.outputNode ? ` from node ${this.opts.outputNode}` : ''} (does the workflow save one?)`,
      };
    }
    return { state: 'succeeded', outputs };
  }

  /** Saved video files (VHS_VideoCombine lists them under `gifs`, SaveVideo under `images`), mp4/webm before gif. */
  private outputsOf(entry: HistoryEntry): PollOutput[] {
    const nodes = Object.entries(entry.outputs ?? {}).filter(([id]) => !this.opts.outputNode || id === this.opts.outputNode);
    const files = nodes
      .flatMap(([, out]) => Object.values(out).flatMap((v) => (Array.isArray(v) ? v : [])))
      .filter((f): f is OutputFile => typeof (f as OutputFile)?.filename === 'string' && VIDEO.test((f as OutputFile).filename));
    const ordered = [...files.filter((f) => !/\.gif$/i.test(f.filename)), ...files.filter((f) => /\.gif$/i.test(f.filename))];
    return ordered.slice(0, 1).map((f, index) => {
      const q = new URLSearchParams({ filename: f.filename, subfolder: f.subfolder ?? '', type: f.type ?? 'output' });
      return { index, video: { kind: 'url', url: `${this.base}/view?${q.toString()}`, headers: this.auth } };
    });
  }

  fetchOutput(ref: OutputRef): Promise<Readable> {
    return downloadOutput('comfyui', ref, this.opts, ['authorization']);
  }

  /** Interrupts the prompt if it is the one running, or deletes it from the queue if it waits. */
  async cancel(upstreamId: string): Promise<void> {
    this.socket?.unwatch(upstreamId);
    const q = await this.api.call<QueueState>('GET', '/queue');
    if ((q.queue_running ?? []).some((item) => item[1] === upstreamId)) await this.api.call('POST', '/interrupt', { prompt_id: upstreamId });
    else if ((q.queue_pending ?? []).some((item) => item[1] === upstreamId)) await this.api.call('POST', '/queue', { delete: [upstreamId] });
  }

  /** Drops the prompt's history entry once its outputs are stored (the files stay in ComfyUI's output folder). */
  async release(upstreamId: string): Promise<void> {
    await this.api.call('POST', '/history', { delete: [upstreamId] });
  }

  /** Closes the progress websocket (tests; a worker keeps it for its lifetime). */
  close(): void {
    this.socket?.close();
  }
}

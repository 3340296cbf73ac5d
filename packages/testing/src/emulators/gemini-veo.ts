/**
 * A loopback emulator of the Gemini API's Veo video generation, following its public docs:
 *   https://ai.google.dev/gemini-api/docs/video  (REST: POST /v1beta/models/{model}:predictLongRunning
 *     with {instances:[{prompt, image?}], parameters:{aspectRatio, durationSeconds, resolution,
 *     negativePrompt, personGeneration, seed, sampleCount}}; poll GET /v1beta/{operation name} until
 *     `done`; the video at response.generateVideoResponse.generatedSamples[].video.uri, downloaded with
 *     the x-goog-api-key header, which redirects to a storage host)
 *   https://ai.google.dev/api/rest/v1beta/operations  (google.longrunning.Operation: name, done, error | response)
 *   https://cloud.google.com/apis/design/errors  ({"error": {code, message, status, details}}; 429 RESOURCE_EXHAUSTED
 *     with a google.rpc.RetryInfo retryDelay)
 *   https://cloud.google.com/vertex-ai/generative-ai/docs/models/veo/3-1-generate  (per-model limits: 16:9 / 9:16;
 *     720p, 1080p and, for 3.1, 4k with 1080p/4k at 8 s only; 4, 6 or 8 s; Veo 2: 720p, 5-8 s; 24 fps)
 * Cancel (POST /v1beta/{name}:cancel) follows google.longrunning: the operation ends with error code 1 (CANCELLED).
 * The file download redirects to a second loopback server ("storage"), a different origin, which
 * records the headers it receives so tests can prove the API key is not forwarded there.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, EmulatorServer, sendBytes, sendJson, type LoggedRequest } from './kit';

export interface EmulatedOperation {
  name: string;
  model: string;
  instance: { prompt?: string; image?: { bytesBase64Encoded?: string; mimeType?: string } };
  parameters: Record<string, unknown>;
  done: boolean;
  error?: { code: number; message: string };
  /** RAI filtering: done without samples, with these reasons. */
  filtered?: string[];
  files: string[];
  polls: number;
}

export interface VeoEmulatorOptions {
  apiKey: string;
  video: Buffer;
  /** Polls before an operation is done (auto mode). */
  pollsToFinish?: number;
  mode?: 'auto' | 'manual';
}

const googleError = (res: ServerResponse, code: number, status: string, message: string, details: unknown[] = [], headers: Record<string, string> = {}): void =>
  sendJson(res, code, { error: { code, message, status, ...(details.length ? { details } : {}) } }, headers);

export class VeoEmulator extends Emulator {
  /** The storage host download links redirect to (another origin). */
  readonly storage: EmulatorServer;
  readonly operations = new Map<string, EmulatedOperation>();
  mode: 'auto' | 'manual';

  constructor(private readonly opts: VeoEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
    this.storage = new EmulatorServer((req, res) => this.serveBlob(req, res));
  }

  override async start(port = 0): Promise<string> {
    await this.storage.start();
    return super.start(port);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.storage.close();
  }

  finish(name: string): void {
    const op = this.operations.get(name)!;
    op.done = true;
    const count = Number(op.parameters.sampleCount ?? 1);
    op.files = Array.from({ length: count }, () => randomBytes(6).toString('hex'));
  }

  failOperation(name: string, message: string, code = 13): void {
    const op = this.operations.get(name)!;
    op.done = true;
    op.error = { code, message };
  }

  filter(name: string, reasons: string[]): void {
    const op = this.operations.get(name)!;
    op.done = true;
    op.filtered = reasons;
  }

  private view(op: EmulatedOperation): Record<string, unknown> {
    if (!op.done) return { name: op.name };
    if (op.error) return { name: op.name, done: true, error: op.error };
    const generateVideoResponse = op.filtered
      ? { raiMediaFilteredCount: op.filtered.length, raiMediaFilteredReasons: op.filtered }
      : { generatedSamples: op.files.map((f) => ({ video: { uri: `${this.url}/v1beta/files/${f}:download?alt=media` } })) };
    return {
      name: op.name,
      done: true,
      response: { '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse', generateVideoResponse },
    };
  }

  private serveBlob(req: LoggedRequest, res: ServerResponse): void {
    if (!/^\/blob\/[0-9a-f]+$/.test(req.path)) return sendJson(res, 404, {});
    sendBytes(res, this.opts.video, 'video/mp4');
  }

  protected handle(req: LoggedRequest, res: ServerResponse): void {
    const key = req.headers['x-goog-api-key'];
    if (!key)
      return googleError(
        res,
        403,
        'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    if (key !== this.opts.apiKey) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
      ]);
    }
    const download = /^\/v1beta\/files\/([0-9a-f]+):download$/.exec(req.path);
    if (download && req.method === 'GET') {
      res.writeHead(302, { location: `${this.storage.url}/blob/${download[1]}` });
      res.end();
      return;
    }
    const create = /^\/v1beta\/models\/([^/:]+):predictLongRunning$/.exec(req.path);
    if (create && req.method === 'POST') return this.create(create[1]!, req, res);

    const cancel = /^\/v1beta\/(models\/[^/]+\/operations\/[^/:]+):cancel$/.exec(req.path);
    if (cancel && req.method === 'POST') {
      const op = this.operations.get(cancel[1]!);
      if (!op) return googleError(res, 404, 'NOT_FOUND', 'Operation not found');
      if (!op.done) {
        op.done = true;
        op.error = { code: 1, message: 'CANCELLED' };
      }
      return sendJson(res, 200, {});
    }
    const get = /^\/v1beta\/(models\/[^/]+\/operations\/[^/:]+)$/.exec(req.path);
    if (get && req.method === 'GET') {
      const op = this.operations.get(get[1]!);
      if (!op) return googleError(res, 404, 'NOT_FOUND', `Operation ${get[1]} not found`);
      op.polls++;
      if (this.mode === 'auto' && !op.done && op.polls >= (this.opts.pollsToFinish ?? 2)) {
        if (String(op.instance.prompt ?? '').includes('fail')) this.failOperation(op.name, 'Video generation failed: internal error in the model backend');
        else this.finish(op.name);
      }
      return sendJson(res, 200, this.view(op));
    }
    return googleError(res, 404, 'NOT_FOUND', `No route for ${req.method} ${req.path}`);
  }

  private create(model: string, req: LoggedRequest, res: ServerResponse): void {
    const body = (req.json ?? {}) as { instances?: EmulatedOperation['instance'][]; parameters?: Record<string, unknown> };
    const instance = body.instances?.[0];
    if (!instance || (!instance.prompt && !instance.image))
      return googleError(res, 400, 'INVALID_ARGUMENT', 'instances[0].prompt: a prompt or an image is required.');
    const p = body.parameters ?? {};
    const veo2 = model.startsWith('veo-2');
    const d = Number(p.durationSeconds ?? 8);
    if (veo2 ? !(d >= 5 && d <= 8) : ![4, 6, 8].includes(d)) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `The duration ${d} is not supported for ${model}.`);
    }
    if (p.aspectRatio !== undefined && !['16:9', '9:16'].includes(String(p.aspectRatio))) {
      return googleError(res, 400, 'INVALID_ARGUMENT', `Aspect ratio ${String(p.aspectRatio)} is not supported.`);
    }
    if (veo2 && p.resolution !== undefined) return googleError(res, 400, 'INVALID_ARGUMENT', `resolution isn't supported by ${model}.`);
    const name = `models/${model}/operations/${randomBytes(8).toString('hex')}`;
    this.operations.set(name, { name, model, instance, parameters: p, done: false, files: [], polls: 0 });
    sendJson(res, 200, { name });
  }
}

/**
 * A loopback emulator of a self-hosted ComfyUI server, following its public docs:
 *   https://docs.comfy.org/development/comfyui-server/comms_routes  (POST /prompt validates a workflow and queues it,
 *     answering {prompt_id, number, node_errors} or {error, node_errors}; GET /history/{prompt_id}; POST /history
 *     {delete}; GET /queue {queue_running, queue_pending}; POST /queue {delete}; POST /interrupt; POST /upload/image;
 *     GET /view?filename&subfolder&type; /ws?clientId= websocket)
 *   https://docs.comfy.org/development/comfyui-server/comms_messages  (websocket messages: status, execution_start,
 *     executing {node, prompt_id} with node null when the prompt is done, progress {value, max, prompt_id, node},
 *     executed, execution_error, execution_interrupted)
 *   ComfyUI's server.py (public source): /prompt accepts a caller-chosen `prompt_id`; history entries hold
 *     `outputs` per node and `status` {status_str, completed, messages}; events go to the client id that queued
 * No auth (ComfyUI has none by default). The emulated node types are few (CLIPTextEncode, KSampler,
 * EmptyHunyuanLatentVideo, LoadImage, VHS_VideoCombine, SaveVideo…); anything else is an unknown node.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { Emulator, sendBytes, sendJson, type LoggedRequest } from './kit';

type PromptState = 'pending' | 'running' | 'done' | 'error' | 'interrupted';

export interface EmulatedPrompt {
  id: string;
  number: number;
  clientId?: string;
  prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  state: PromptState;
  polls: number;
}

export interface ComfyUIEmulatorOptions {
  video: Buffer;
  /** 'auto': each GET /history of a prompt moves it one step (pending → running, progress 10/20 → done); 'manual': it stays running. */
  mode?: 'auto' | 'manual';
  /** Which output key the save node lists its file under (VHS_VideoCombine: gifs; core SaveVideo: images). */
  outputKey?: 'gifs' | 'images' | 'videos';
}

const NODES = new Set([
  'CheckpointLoaderSimple',
  'UNETLoader',
  'CLIPLoader',
  'VAELoader',
  'CLIPTextEncode',
  'KSampler',
  'EmptyHunyuanLatentVideo',
  'EmptyLatentImage',
  'VAEDecode',
  'LoadImage',
  'VHS_VideoCombine',
  'SaveVideo',
  'CreateVideo',
]);
const SAVE_NODES = new Set(['VHS_VideoCombine', 'SaveVideo']);

export class ComfyUIEmulator extends Emulator {
  readonly prompts = new Map<string, EmulatedPrompt>();
  /** Uploaded input images by name. */
  readonly uploads = new Map<string, Buffer>();
  mode: 'auto' | 'manual';
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<string, WebSocket>();
  private number = 0;

  constructor(private readonly opts: ComfyUIEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
    this.server.onUpgrade((req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname !== '/ws') return socket.destroy();
      const clientId = url.searchParams.get('clientId') ?? randomUUID();
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.set(clientId, ws); // a reconnect with the same id replaces the old socket, as ComfyUI does
        ws.send(JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: this.pending().length } }, sid: clientId } }));
      });
    });
  }

  /** Client ids with an open websocket. */
  get connectedClients(): string[] {
    return [...this.sockets.entries()].filter(([, ws]) => ws.readyState === ws.OPEN).map(([id]) => id);
  }

  override async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    await super.close();
  }

  private pending(): EmulatedPrompt[] {
    return [...this.prompts.values()].filter((p) => p.state === 'pending').sort((a, b) => a.number - b.number);
  }

  private running(): EmulatedPrompt | undefined {
    return [...this.prompts.values()].find((p) => p.state === 'running');
  }

  private send(p: EmulatedPrompt, type: string, data: Record<string, unknown>): void {
    const ws = p.clientId ? this.sockets.get(p.clientId) : undefined;
    if (ws?.readyState === ws?.OPEN) ws?.send(JSON.stringify({ type, data: { ...data, prompt_id: p.id } }));
  }

  private saveNode(p: EmulatedPrompt): string {
    return Object.entries(p.prompt).find(([, n]) => SAVE_NODES.has(n.class_type))![0];
  }

  /** Starts the next queued prompt if nothing runs, announcing it on the websocket as ComfyUI does. */
  private startNext(): void {
    if (this.running()) return;
    const next = this.pending()[0];
    if (!next) return;
    next.state = 'running';
    this.send(next, 'execution_start', { timestamp: Date.now() });
    const sampler = Object.entries(next.prompt).find(([, n]) => n.class_type === 'KSampler')?.[0] ?? '1';
    this.send(next, 'executing', { node: sampler });
    this.send(next, 'progress', { value: 10, max: 20, node: sampler });
  }

  /** Ends the running prompt: its history gets the saved file, or an execution error. */
  finish(id: string, error?: string): void {
    const p = this.prompts.get(id)!;
    p.state = error ? 'error' : 'done';
    if (error) this.send(p, 'execution_error', { node_id: '3', node_type: 'KSampler', exception_message: error, exception_type: 'RuntimeError' });
    else {
      this.send(p, 'progress', { value: 20, max: 20, node: '3' });
      this.send(p, 'executed', { node: this.saveNode(p), output: this.outputs(p)[this.saveNode(p)] });
      this.send(p, 'executing', { node: null });
    }
    this.startNext();
  }

  private outputs(p: EmulatedPrompt): Record<string, unknown> {
    if (p.state !== 'done') return {};
    const node = this.saveNode(p);
    const prefix = String(p.prompt[node]!.inputs.filename_prefix ?? 'ComfyUI');
    const file = { filename: `${prefix}_${p.id.slice(0, 8)}_00001.mp4`, subfolder: 'video', type: 'output', format: 'video/h264-mp4' };
    return { [node]: { [this.opts.outputKey ?? 'gifs']: [file], ...(this.opts.outputKey === 'images' ? { animated: [true] } : {}) } };
  }

  private historyEntry(p: EmulatedPrompt): Record<string, unknown> | undefined {
    if (p.state === 'pending' || p.state === 'running') return undefined;
    const messages: unknown[] = [['execution_start', { prompt_id: p.id, timestamp: Date.now() }]];
    if (p.state === 'error')
      messages.push([
        'execution_error',
        {
          prompt_id: p.id,
          node_id: '3',
          node_type: 'KSampler',
          exception_message: 'CUDA out of memory. Tried to allocate 2.00 GiB\n',
          exception_type: 'torch.OutOfMemoryError',
        },
      ]);
    if (p.state === 'interrupted') messages.push(['execution_interrupted', { prompt_id: p.id, node_id: '3', node_type: 'KSampler', executed: [] }]);
    if (p.state === 'done') messages.push(['execution_success', { prompt_id: p.id, timestamp: Date.now() }]);
    return {
      prompt: [p.number, p.id, p.prompt, { client_id: p.clientId }, [this.saveNode(p)]],
      outputs: this.outputs(p),
      status: { status_str: p.state === 'done' ? 'success' : 'error', completed: p.state === 'done', messages },
      meta: {},
    };
  }

  protected handle(req: LoggedRequest, res: ServerResponse): void {
    const ok = (): void => {
      res.writeHead(200).end();
    };
    if (req.method === 'POST' && req.path === '/prompt') return this.queuePrompt(req, res);
    if (req.method === 'GET' && req.path === '/queue') {
      const row = (p: EmulatedPrompt): unknown[] => [p.number, p.id, p.prompt, { client_id: p.clientId }, [this.saveNode(p)]];
      const running = this.running();
      return sendJson(res, 200, { queue_running: running ? [row(running)] : [], queue_pending: this.pending().map(row) });
    }
    if (req.method === 'POST' && req.path === '/queue') {
      for (const id of (req.json as { delete?: string[] })?.delete ?? []) if (this.prompts.get(id)?.state === 'pending') this.prompts.delete(id);
      return ok();
    }
    if (req.method === 'POST' && req.path === '/interrupt') {
      const running = this.running();
      const target = (req.json as { prompt_id?: string } | undefined)?.prompt_id;
      if (running && (!target || target === running.id)) {
        running.state = 'interrupted';
        this.send(running, 'execution_interrupted', { node_id: '3', node_type: 'KSampler', executed: [] });
        this.startNext();
      }
      return ok();
    }
    const hist = /^\/history\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && hist) {
      const p = this.prompts.get(hist[1]!);
      if (p && this.mode === 'auto') {
        p.polls++;
        if (p.state === 'running' && p.polls > 1)
          this.finish(p.id, String(JSON.stringify(p.prompt)).includes('fail') ? 'CUDA out of memory. Tried to allocate 2.00 GiB\n' : undefined);
      }
      const entry = p && this.historyEntry(p);
      return sendJson(res, 200, entry ? { [p.id]: entry } : {});
    }
    if (req.method === 'POST' && req.path === '/history') {
      for (const id of (req.json as { delete?: string[] })?.delete ?? [])
        if (this.historyEntry(this.prompts.get(id) ?? ({ state: 'pending' } as EmulatedPrompt))) this.prompts.delete(id);
      return ok();
    }
    if (req.method === 'POST' && req.path === '/upload/image') {
      const text = req.body.toString('latin1');
      const name = /name="image"; filename="([^"]+)"/.exec(text)?.[1];
      if (!name) return sendJson(res, 400, { error: 'no image' });
      const start = text.indexOf('\r\n\r\n', text.indexOf(`filename="${name}"`)) + 4;
      const end = text.indexOf('\r\n--', start);
      this.uploads.set(name, req.body.subarray(start, end));
      return sendJson(res, 200, { name, subfolder: '', type: 'input' });
    }
    if (req.method === 'GET' && req.path === '/view') {
      const done = [...this.prompts.values()].find((p) => p.state === 'done' && JSON.stringify(this.outputs(p)).includes(`"${req.query.get('filename')}"`));
      if (!done || req.query.get('type') !== 'output' || req.query.get('subfolder') !== 'video') return sendJson(res, 404, {});
      return sendBytes(res, this.opts.video, 'video/mp4');
    }
    sendJson(res, 404, {});
  }

  private queuePrompt(req: LoggedRequest, res: ServerResponse): void {
    const b = (req.json ?? {}) as { prompt?: EmulatedPrompt['prompt']; client_id?: string; prompt_id?: string };
    if (!b.prompt || typeof b.prompt !== 'object')
      return sendJson(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: '', extra_info: {} }, node_errors: {} });
    for (const [id, node] of Object.entries(b.prompt)) {
      if (!NODES.has(node.class_type)) {
        return sendJson(res, 400, {
          error: {
            type: 'invalid_prompt',
            message: `Cannot execute because node ${node.class_type} does not exist.`,
            details: `Node ID '#${id}'`,
            extra_info: {},
          },
          node_errors: {},
        });
      }
    }
    const nodeErrors: Record<string, unknown> = {};
    for (const [id, node] of Object.entries(b.prompt)) {
      const bad = (input: string, message: string): void => {
        nodeErrors[id] = {
          errors: [{ type: 'value_not_valid', message, details: `${input}: ${JSON.stringify(node.inputs[input])}`, extra_info: { input_name: input } }],
          dependent_outputs: [],
          class_type: node.class_type,
        };
      };
      if (node.class_type === 'CLIPTextEncode' && typeof node.inputs.text !== 'string') bad('text', 'Value not a string');
      if (node.class_type === 'KSampler' && !Number.isInteger(node.inputs.seed)) bad('seed', 'Failed to convert an input value to a INT value');
      if (node.class_type === 'EmptyHunyuanLatentVideo')
        for (const k of ['width', 'height', 'length'])
          if (!Number.isInteger(node.inputs[k]) || (node.inputs[k] as number) < 1) bad(k, 'Value smaller than min of 1');
      if (node.class_type === 'LoadImage' && !this.uploads.has(String(node.inputs.image))) bad('image', 'Invalid image file');
    }
    if (!Object.values(b.prompt).some((n) => SAVE_NODES.has(n.class_type))) {
      return sendJson(res, 400, { error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} });
    }
    if (Object.keys(nodeErrors).length) {
      return sendJson(res, 400, {
        error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
        node_errors: nodeErrors,
      });
    }
    const id = b.prompt_id ?? randomUUID();
    const number = this.number++;
    this.prompts.set(id, { id, number, clientId: b.client_id, prompt: b.prompt, state: 'pending', polls: 0 });
    this.startNext();
    sendJson(res, 200, { prompt_id: id, number, node_errors: {} });
  }
}

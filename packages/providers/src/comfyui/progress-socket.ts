import WebSocket from 'ws';

/**
 * Progress of this process's prompts from ComfyUI's websocket (`/ws?clientId=`): `progress`
 * events carry {value, max} for the node sampling now. ComfyUI sends them only to the client id
 * that queued the prompt, so a poll made by another worker process sees no progress (the poll
 * itself, over /history and /queue, stays the authority). The socket is open only while this
 * process has prompts in flight, and reconnects after a drop.
 */
export class ProgressSocket {
  private socket: WebSocket | undefined;
  private readonly progress = new Map<string, { fraction: number; at: number }>();
  private readonly watching = new Map<string, number>();
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  /** Starts listening for a prompt (before it is queued, so its first events are not missed). */
  watch(promptId: string): Promise<void> {
    this.prune();
    this.watching.set(promptId, Date.now());
    return this.connect();
  }

  /** Stops listening for a prompt; the socket closes when no prompt is left. */
  unwatch(promptId: string): void {
    this.watching.delete(promptId);
    this.progress.delete(promptId);
    if (this.watching.size === 0) this.disconnect();
  }

  /** The last progress fraction seen for a prompt, if any. */
  of(promptId: string): number | undefined {
    return this.progress.get(promptId)?.fraction;
  }

  close(): void {
    this.closed = true;
    this.disconnect();
  }

  private disconnect(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    const s = this.socket;
    this.socket = undefined;
    s?.removeAllListeners();
    s?.on('error', () => undefined);
    s?.terminate();
  }

  /** Resolves once open (or on failure: progress is a nicety, never a reason to fail a submit). */
  private connect(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.socket)
      return this.socket.readyState === WebSocket.CONNECTING
        ? new Promise((r) => this.socket!.once('open', () => r()).once('close', () => r()))
        : Promise.resolve();
    const socket = new WebSocket(this.url, { headers: this.headers, handshakeTimeout: 5000 });
    this.socket = socket;
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(data.toString());
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.prune();
      if (!this.closed && this.watching.size > 0) {
        this.retry = setTimeout(() => void this.connect(), 1000);
        this.retry.unref();
      }
    });
    return new Promise((resolve) => {
      socket.once('open', () => resolve());
      socket.once('close', () => resolve());
    });
  }

  private onMessage(text: string): void {
    let msg: { type?: string; data?: { prompt_id?: string; value?: number; max?: number; node?: string | null } };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const id = msg.data?.prompt_id;
    if (!id || !this.watching.has(id)) return;
    if (msg.type === 'progress' && typeof msg.data?.value === 'number' && typeof msg.data.max === 'number' && msg.data.max > 0) {
      this.progress.set(id, { fraction: msg.data.value / msg.data.max, at: Date.now() });
    }
  }

  /** Forgets prompts watched for over a day (polled to their end by another process). */
  private prune(): void {
    const cutoff = Date.now() - 24 * 3600_000;
    for (const [id, since] of this.watching) if (since < cutoff) this.unwatch(id);
  }
}

/**
 * A loopback emulator of Runway's developer API, following its public docs:
 *   https://docs.dev.runwayml.com/api/  (POST /v1/text_to_video, POST /v1/image_to_video, GET /v1/tasks/{id},
 *     DELETE /v1/tasks/{id}; Authorization: Bearer key_…; X-Runway-Version: 2024-11-06 required)
 *   https://docs.dev.runwayml.com/guides/using-the-api  (model, promptText, promptImage, ratio "1280:720", duration)
 *   https://docs.dev.runwayml.com/usage/tiers  (over the concurrency limit a task is THROTTLED, stored and run later;
 *     over the daily generation limit the create answers 429)
 *   https://docs.dev.runwayml.com/errors/troubleshooting  (400 bodies describe each failing field; 401 for a bad key)
 *   https://docs.dev.runwayml.com/assets/inputs  (promptImage as an HTTPS URL or a data URI under 5 MB)
 * Task statuses: PENDING, THROTTLED, RUNNING (with `progress` 0..1), SUCCEEDED (`output[]` of expiring
 * pre-signed URLs), FAILED (`failure`, `failureCode`; SAFETY.* codes are moderation), CANCELLED.
 * Not found in the docs searched, so modelled on the SDK's error handling and kept minimal: the
 * exact 400 body (here `{error, issues: [{path, message}]}`) and the daily-limit 429 text.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Emulator, sendJson, ServedFiles, type LoggedRequest } from './kit';

type RunwayStatus = 'PENDING' | 'THROTTLED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface EmulatedRunwayTask {
  id: string;
  endpoint: 'text_to_video' | 'image_to_video';
  body: Record<string, unknown>;
  status: RunwayStatus;
  progress: number;
  failure?: string;
  failureCode?: string;
  polls: number;
}

export interface RunwayEmulatorOptions {
  apiKey: string;
  video: Buffer;
  /** Tasks the account may run at once; more wait THROTTLED (default 5). */
  concurrency?: number;
  /** Creates accepted before the daily limit answers 429 (default unlimited). */
  dailyLimit?: number;
  /** 'auto': each GET moves a task one step (PENDING → RUNNING 50% → SUCCEEDED); 'manual': it stays RUNNING. */
  mode?: 'auto' | 'manual';
}

const FIELDS: Record<EmulatedRunwayTask['endpoint'], string[]> = {
  text_to_video: ['model', 'promptText', 'ratio', 'duration', 'seed', 'contentModeration'],
  image_to_video: ['model', 'promptImage', 'promptText', 'ratio', 'duration', 'seed', 'contentModeration'],
};
const RATIOS = ['1280:720', '720:1280', '1104:832', '832:1104', '960:960', '1584:672'];

export class RunwayEmulator extends Emulator {
  readonly tasks = new Map<string, EmulatedRunwayTask>();
  readonly files = new ServedFiles(403);
  mode: 'auto' | 'manual';
  private created = 0;

  constructor(private readonly opts: RunwayEmulatorOptions) {
    super();
    this.mode = opts.mode ?? 'auto';
  }

  private running(): number {
    return [...this.tasks.values()].filter((t) => t.status === 'RUNNING').length;
  }

  private view(t: EmulatedRunwayTask): Record<string, unknown> {
    const out: Record<string, unknown> = { id: t.id, status: t.status, createdAt: new Date().toISOString() };
    if (t.status === 'RUNNING') out.progress = t.progress;
    if (t.status === 'SUCCEEDED') out.output = [`${this.url}${this.files.add(t.id, this.opts.video)}?_jwt=emulated`];
    if (t.status === 'FAILED') Object.assign(out, { failure: t.failure, failureCode: t.failureCode });
    return out;
  }

  /** Ends a task as Runway would: SUCCEEDED, or FAILED with a failure and its code. */
  finish(id: string, failure?: { failure: string; failureCode: string }): void {
    const t = this.tasks.get(id)!;
    Object.assign(t, failure ? { status: 'FAILED', ...failure } : { status: 'SUCCEEDED' });
  }

  protected handle(req: LoggedRequest, res: ServerResponse): void {
    if (this.files.serve(req, res)) return;
    if (req.headers.authorization !== `Bearer ${this.opts.apiKey}`) return sendJson(res, 401, { error: 'Invalid API key' });
    if (req.headers['x-runway-version'] !== '2024-11-06') {
      return sendJson(res, 400, { error: 'You must provide a valid X-Runway-Version header. The current version is 2024-11-06.' });
    }
    const create = /^\/v1\/(text_to_video|image_to_video)$/.exec(req.path);
    if (create && req.method === 'POST') return this.create(create[1] as EmulatedRunwayTask['endpoint'], req, res);
    const task = /^\/v1\/tasks\/([^/]+)$/.exec(req.path);
    const t = task ? this.tasks.get(task[1]!) : undefined;
    if (task && !t) return sendJson(res, 404, { error: 'Task not found' });
    if (t && req.method === 'GET') return this.get(t, res);
    if (t && req.method === 'DELETE') {
      // A running task is cancelled; a finished one is deleted.
      if (['PENDING', 'THROTTLED', 'RUNNING'].includes(t.status)) t.status = 'CANCELLED';
      else this.tasks.delete(t.id);
      res.writeHead(204).end();
      return;
    }
    sendJson(res, 404, { error: 'Not found' });
  }

  private create(endpoint: EmulatedRunwayTask['endpoint'], req: LoggedRequest, res: ServerResponse): void {
    const body = (req.json ?? {}) as Record<string, unknown>;
    const issues: Array<{ path: string[]; message: string }> = [];
    for (const k of Object.keys(body)) if (!FIELDS[endpoint].includes(k)) issues.push({ path: [k], message: `Unrecognized key "${k}"` });
    if (typeof body.model !== 'string') issues.push({ path: ['model'], message: 'Required' });
    if (endpoint === 'text_to_video' && typeof body.promptText !== 'string') issues.push({ path: ['promptText'], message: 'Required' });
    if (endpoint === 'image_to_video' && !/^(https:\/\/|data:image\/)/.test(String(body.promptImage)))
      issues.push({ path: ['promptImage'], message: 'Invalid data URI or URL' });
    if (!RATIOS.includes(String(body.ratio)))
      issues.push({ path: ['ratio'], message: `Invalid enum value. Expected ${RATIOS.map((r) => `'${r}'`).join(' | ')}` });
    if (!Number.isInteger(body.duration) || (body.duration as number) < 2 || (body.duration as number) > 10)
      issues.push({ path: ['duration'], message: 'Number must be between 2 and 10' });
    if (issues.length) return sendJson(res, 400, { error: 'Validation of body failed', issues });
    if (this.opts.dailyLimit !== undefined && this.created >= this.opts.dailyLimit) {
      return sendJson(res, 429, { error: 'You have exceeded your daily generation limit.' });
    }
    this.created++;
    const id = randomUUID();
    const throttled = this.running() >= (this.opts.concurrency ?? 5);
    this.tasks.set(id, { id, endpoint, body, status: throttled ? 'THROTTLED' : 'PENDING', progress: 0, polls: 0 });
    sendJson(res, 200, { id });
  }

  private get(t: EmulatedRunwayTask, res: ServerResponse): void {
    t.polls++;
    if (t.polls > 1) {
      if (t.status === 'THROTTLED' && this.running() < (this.opts.concurrency ?? 5)) t.status = 'PENDING';
      else if (t.status === 'PENDING') {
        t.status = 'RUNNING';
        t.progress = 0.5;
      } else if (t.status === 'RUNNING' && this.mode === 'auto') {
        const prompt = String(t.body.promptText ?? '');
        if (prompt.includes('unsafe')) this.finish(t.id, { failure: 'The prompt did not pass content moderation.', failureCode: 'SAFETY.INPUT.TEXT' });
        else if (prompt.includes('fail')) this.finish(t.id, { failure: 'An unexpected error occurred.', failureCode: 'INTERNAL' });
        else this.finish(t.id);
      }
    }
    sendJson(res, 200, this.view(t));
  }
}

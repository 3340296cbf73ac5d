import { createHash } from 'node:crypto';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type OpenAI from 'openai';

/**
 * Commands for a backend's operator that talk to a Reelay API over HTTP (REELAY_URL,
 * REELAY_API_KEY), never to its database: `videos create --wait` and `batch submit|status|cancel|list`.
 * They use the official openai SDK, so they send exactly what any OpenAI client sends.
 */

const API_ENV = `
Environment: REELAY_URL (default http://127.0.0.1:8080) and REELAY_API_KEY.`;

async function client(): Promise<OpenAI> {
  const key = process.env.REELAY_API_KEY;
  if (!key) throw new Error('REELAY_API_KEY is not set');
  const { default: OpenAIClient } = await import('openai');
  const base = (process.env.REELAY_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  return new OpenAIClient({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 3, timeout: 60_000 });
}

/** A progress bar on stderr (cli-progress); redrawn in place on a terminal, a line per second otherwise. */
async function progressBar(format: string): Promise<import('cli-progress').SingleBar> {
  const { SingleBar, Presets } = await import('cli-progress');
  return new SingleBar({ format, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 1000, etaBuffer: 20, hideCursor: true }, Presets.shades_classic);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Streams a video to `path` (written to a temp name, renamed at the end) and returns its size and sha256. */
async function download(openai: OpenAI, videoId: string, path: string): Promise<{ bytes: number; sha256: string }> {
  const res = await openai.videos.downloadContent(videoId);
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const tmp = `${path}.part`;
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), meter, createWriteStream(tmp));
  renameSync(tmp, path);
  return { bytes, sha256: hash.digest('hex') };
}

/** A custom_id as a file name: anything outside [A-Za-z0-9._-] becomes `_`. */
const fileNameOf = (customId: string): string => `${customId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200) || '_'}.mp4`;

/**
 * Full batch lines pass through (a missing custom_id is filled); a plain `{"prompt", …}` line
 * becomes the body of a POST /v1/videos line with custom_id `line-<n>` (or its own custom_id).
 */
function toBatchLines(text: string): string {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new Error(`line ${i + 1} is not valid JSON`);
    }
    const customId = typeof obj.custom_id === 'string' && obj.custom_id ? obj.custom_id : `line-${i + 1}`;
    if (obj.body !== undefined && (obj.url !== undefined || obj.method !== undefined)) out.push(JSON.stringify({ ...obj, custom_id: customId }));
    else {
      const { custom_id: _c, ...body } = obj;
      out.push(JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/videos', body }));
    }
  });
  return `${out.join('\n')}\n`;
}

interface ManifestEntry {
  custom_id: string;
  video_id: string | null;
  status: string;
  file: string | null;
  bytes: number | null;
  sha256: string | null;
}

function readManifest(path: string): Map<string, ManifestEntry> {
  const done = new Map<string, ManifestEntry>();
  if (!existsSync(path)) return done;
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    try {
      const e = JSON.parse(l) as ManifestEntry;
      done.set(e.custom_id, e);
    } catch {
      // a line cut off by a kill: that entry is fetched again
    }
  }
  return done;
}

const FINAL = ['completed', 'failed', 'cancelled', 'expired'];

async function waitForBatch(openai: OpenAI, id: string, pollMs: number, quiet: boolean): Promise<OpenAI.Batches.Batch> {
  const bar = quiet ? null : await progressBar('batch |{bar}| {value}/{total} done | {completed} completed | {failed} failed | {status} | ETA {eta_formatted}');
  let started = false;
  for (;;) {
    const b = await openai.batches.retrieve(id);
    const c = b.request_counts ?? { total: 0, completed: 0, failed: 0 };
    const payload = { completed: c.completed, failed: c.failed, status: b.status };
    if (bar && !started && c.total > 0) {
      bar.start(c.total, c.completed + c.failed, payload);
      started = true;
    }
    if (bar && started) bar.update(c.completed + c.failed, payload);
    if (FINAL.includes(b.status)) {
      bar?.stop();
      return b;
    }
    await sleep(pollMs);
  }
}

/** Downloads every completed request not already in the manifest (resumable), appending a manifest line per request. */
async function collect(
  openai: OpenAI,
  batch: OpenAI.Batches.Batch,
  dir: string,
  quiet: boolean,
  workerCount: number,
): Promise<{ downloaded: number; skipped: number; failed: number }> {
  const manifestPath = join(dir, 'manifest.jsonl');
  const done = readManifest(manifestPath);
  interface OutputLine {
    custom_id: string;
    response: { body?: { id?: string; status?: string } } | null;
    error: { code?: string } | null;
  }
  const lines: OutputLine[] = [];
  for (const fileId of [batch.output_file_id, batch.error_file_id]) {
    if (!fileId) continue;
    const text = await (await openai.files.content(fileId)).text();
    for (const l of text.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as OutputLine);
  }
  const todo = lines.filter((l) => {
    const e = done.get(l.custom_id);
    return !(e && (e.status !== 'completed' || (e.file && existsSync(join(dir, e.file)) && statSync(join(dir, e.file)).size === e.bytes)));
  });
  const skipped = lines.length - todo.length;
  const bar = quiet || todo.length === 0 ? null : await progressBar('download |{bar}| {value}/{total} | ETA {eta_formatted}');
  bar?.start(todo.length, 0);
  let downloaded = 0;
  let failed = 0;
  const queue = [...todo];
  await Promise.all(
    Array.from({ length: workerCount }, async () => {
      for (let l = queue.shift(); l; l = queue.shift()) {
        const video = l.response?.body;
        let entry: ManifestEntry;
        if (l.error === null && video?.id) {
          const file = fileNameOf(l.custom_id);
          const got = await download(openai, video.id, join(dir, file));
          entry = { custom_id: l.custom_id, video_id: video.id, status: 'completed', file, bytes: got.bytes, sha256: got.sha256 };
          downloaded++;
        } else {
          entry = {
            custom_id: l.custom_id,
            video_id: video?.id ?? null,
            status: l.error?.code ?? video?.status ?? 'failed',
            file: null,
            bytes: null,
            sha256: null,
          };
          failed++;
        }
        appendFileSync(manifestPath, `${JSON.stringify(entry)}\n`);
        bar?.increment();
      }
    }),
  );
  bar?.stop();
  // Written again whole at the end (temp file, then rename): a line a kill cut off is gone for good.
  const all = readManifest(manifestPath);
  const tmp = `${manifestPath}.tmp`;
  writeFileSync(tmp, [...all.values()].map((e) => `${JSON.stringify(e)}\n`).join(''));
  renameSync(tmp, manifestPath);
  return { downloaded, skipped, failed };
}

const showBatch = (b: OpenAI.Batches.Batch): string => {
  const c = b.request_counts ?? { total: 0, completed: 0, failed: 0 };
  return `${b.id}\t${b.status}\ttotal=${c.total} completed=${c.completed} failed=${c.failed}\toutput=${b.output_file_id ?? '-'}\terrors=${b.error_file_id ?? '-'}\tcreated=${new Date(b.created_at * 1000).toISOString()}`;
};

export function addApiCommands(reelay: Command): void {
  const videos = reelay.command('videos').description('Create videos over HTTP (REELAY_URL, REELAY_API_KEY)').addHelpText('after', API_ENV);
  videos
    .command('create')
    .description('Create one video; with --wait, show its progress and download it')
    .requiredOption('--prompt <text>', 'what the video shows')
    .option('--model <id>', 'a model of GET /v1/models')
    .option('--seconds <n>', 'duration in seconds')
    .option('--size <WxH>', 'e.g. 1280x720')
    .option('--wait', 'wait for the video to end and download it')
    .option('--out <file>', 'where --wait writes the video (default <video id>.mp4)')
    .option('--poll-ms <ms>', 'how often to ask', '1000')
    .action(async (o: { prompt: string; model?: string; seconds?: string; size?: string; wait?: boolean; out?: string; pollMs: string }) => {
      const openai = await client();
      const body: Record<string, unknown> = { prompt: o.prompt };
      if (o.model) body.model = o.model;
      if (o.seconds) body.seconds = o.seconds;
      if (o.size) body.size = o.size;
      let video = await openai.post<OpenAI.Videos.Video>('/videos', { body });
      console.log(`created ${video.id}`);
      if (!o.wait) return;
      const bar = await progressBar('video |{bar}| {percentage}% | {status} | ETA {eta_formatted}');
      bar.start(100, 0, { status: video.status });
      while (!['completed', 'failed'].includes(video.status)) {
        await sleep(Number(o.pollMs));
        video = await openai.videos.retrieve(video.id);
        bar.update(video.progress ?? 0, { status: video.status });
      }
      bar.stop();
      if (video.status !== 'completed') {
        console.error(`${video.id} failed: ${video.error?.code ?? ''} ${video.error?.message ?? ''}`);
        process.exitCode = 1;
        return;
      }
      const path = o.out ?? `${video.id}.mp4`;
      const got = await download(openai, video.id, path);
      console.log(`${video.id}\tcompleted\t${path}\t${got.bytes} bytes\tsha256=${got.sha256}`);
    });

  const batch = reelay
    .command('batch')
    .description('Submit and follow batches of video creates over HTTP (REELAY_URL, REELAY_API_KEY)')
    .addHelpText('after', API_ENV);
  batch
    .command('submit')
    .description('Upload a JSONL file (full batch lines or plain {"prompt", …} lines) and create a batch; --wait follows it and downloads every video')
    .argument('<FILE>', 'the JSONL file')
    .option('--wait', 'wait for the batch to end, then download')
    .option('--out <DIR>', 'where --wait writes <custom_id>.mp4 files and manifest.jsonl', '.')
    .option('--poll-ms <ms>', 'how often to ask', '2000')
    .option('--quiet', 'no progress bars')
    .option('--concurrency <n>', 'downloads at once', '4')
    .action(async (file: string, o: { wait?: boolean; out: string; pollMs: string; quiet?: boolean; concurrency: string }) => {
      const openai = await client();
      const lines = toBatchLines(readFileSync(file, 'utf8'));
      // Retry-safe: the same content is the same upload and the same batch (Idempotency-Key), so a
      // re-run after a kill picks up the batch it made instead of making another.
      const digest = createHash('sha256').update(lines).digest('hex').slice(0, 40);
      const { toFile } = await import('openai');
      const uploaded = await openai.files.create(
        { file: await toFile(Buffer.from(lines), 'batch.jsonl'), purpose: 'batch' },
        { headers: { 'Idempotency-Key': `reelay-cli-file-${digest}` } },
      );
      const created = await openai.batches.create(
        { input_file_id: uploaded.id, endpoint: '/v1/videos', completion_window: '24h' },
        { headers: { 'Idempotency-Key': `reelay-cli-batch-${digest}` } },
      );
      console.log(`batch ${created.id} (${created.status}) from ${uploaded.id}`);
      if (!o.wait) return;
      mkdirSync(o.out, { recursive: true });
      const ended = await waitForBatch(openai, created.id, Number(o.pollMs), Boolean(o.quiet));
      console.log(showBatch(ended));
      if (ended.status === 'failed') {
        for (const e of ended.errors?.data ?? []) console.error(`line ${e.line ?? '-'}: ${e.code}: ${e.message}`);
        process.exitCode = 1;
        return;
      }
      const got = await collect(openai, ended, o.out, Boolean(o.quiet), Math.max(1, Number(o.concurrency) || 4));
      console.log(`downloaded ${got.downloaded}, already there ${got.skipped}, not completed ${got.failed}; manifest ${join(o.out, 'manifest.jsonl')}`);
    });
  batch
    .command('status')
    .description('One batch and its request counts')
    .argument('<BATCH_ID>')
    .action(async (id: string) => console.log(showBatch(await (await client()).batches.retrieve(id))));
  batch
    .command('cancel')
    .description('Cancel a batch: unstarted requests never run, completed ones stay in its output')
    .argument('<BATCH_ID>')
    .action(async (id: string) => console.log(showBatch(await (await client()).batches.cancel(id))));
  batch
    .command('list')
    .description('Your batches, newest first')
    .option('--limit <n>', 'how many', '20')
    .action(async (o: { limit: string }) => {
      const page = await (await client()).batches.list({ limit: Number(o.limit) });
      for (const b of page.data) console.log(showBatch(b));
    });
}

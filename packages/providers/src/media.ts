import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MediaTools {
  ffmpegPath: string;
  ffprobePath: string;
}

export interface ProbeResult {
  width: number;
  height: number;
  fps: number;
  durationSeconds: number;
  frames: number;
  codec: string;
}

export async function probeVideo(tools: MediaTools, path: string): Promise<ProbeResult> {
  // prettier-ignore
  const { stdout } = await run(tools.ffprobePath, [
    '-v', 'error', '-select_streams', 'v:0', '-count_packets',
    '-show_entries', 'stream=width,height,r_frame_rate,codec_name,nb_read_packets:format=duration',
    '-of', 'json', path,
  ]);
  const j = JSON.parse(stdout) as { streams: Array<Record<string, string | number>>; format: { duration: string } };
  const s = j.streams[0];
  if (!s) throw new Error(`no video stream in ${path}`);
  const [num, den] = String(s.r_frame_rate).split('/').map(Number);
  return {
    width: Number(s.width),
    height: Number(s.height),
    fps: num! / (den || 1),
    durationSeconds: Number(j.format.duration),
    frames: Number(s.nb_read_packets),
    codec: String(s.codec_name),
  };
}

/** A JPEG from the middle of the video. */
export async function makeThumbnail(tools: MediaTools, video: string, out: string, durationSeconds: number): Promise<void> {
  // prettier-ignore
  const at = (seconds: number) => [
    '-y', '-v', 'error', '-ss', String(seconds), '-i', video,
    '-frames:v', '1', '-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg', out,
  ];
  // A clip of one frame has nothing past its middle (ffmpeg then writes nothing and exits 0): its first frame.
  await run(tools.ffmpegPath, at(Math.max(0, durationSeconds / 2)));
  if (!existsSync(out)) await run(tools.ffmpegPath, at(0));
}

/** A 5x5 grid of frames spread over the video, each 160 px wide (JPEG). */
export async function makeSpritesheet(tools: MediaTools, video: string, out: string, durationSeconds: number): Promise<void> {
  const every = Math.max(durationSeconds / 25, 0.04);
  // prettier-ignore
  await run(tools.ffmpegPath, [
    '-y', '-v', 'error', '-i', video,
    '-vf', `fps=1/${every.toFixed(4)},scale=160:-2,tile=5x5`,
    '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-c:v', 'mjpeg', out,
  ]);
}

/** ffmpeg's demuxer for each accepted image type, so bytes are read as the type they claim. */
const IMAGE_DEMUXER: Record<string, string> = { 'image/png': 'png_pipe', 'image/jpeg': 'jpeg_pipe', 'image/webp': 'webp_pipe' };

export type ImageDecodeResult =
  { ok: true } | { ok: false; reason: 'undecodable' | 'timeout'; detail: string } | { ok: false; reason: 'unavailable'; detail: string };

/**
 * Decodes the first frame of image bytes with ffmpeg (stdin in, null muxer out, any decode error
 * fatal with -xerror), without a shell. `detail` is ffmpeg's stderr, for logs only.
 */
export function decodeImage(tools: MediaTools, data: Buffer, mime: string, timeoutMs: number): Promise<ImageDecodeResult> {
  return new Promise((resolve) => {
    const demuxer = IMAGE_DEMUXER[mime];
    if (!demuxer) return resolve({ ok: false, reason: 'undecodable', detail: `no decoder for ${mime}` });
    const child = spawn(tools.ffmpegPath, ['-v', 'error', '-xerror', '-f', demuxer, '-i', 'pipe:0', '-frames:v', '1', '-f', 'null', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 4000) stderr += c.toString('utf8');
    });
    // ffmpeg may stop reading early (it knows the image is bad): that is its answer, not an error.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(data);
    child.once('error', (err) => resolve({ ok: false, reason: 'unavailable', detail: err.message }));
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ ok: true });
      else if (signal) resolve({ ok: false, reason: 'timeout', detail: `killed after ${timeoutMs} ms` });
      else resolve({ ok: false, reason: 'undecodable', detail: stderr.trim() || `exit ${code}` });
    });
  });
}

export type UploadProbe =
  | { ok: true; width: number; height: number; fps: number; durationSeconds: number }
  | { ok: false; reason: 'not_mp4' | 'no_video' | 'undecodable' | 'timeout'; detail: string }
  | { ok: false; reason: 'unavailable'; detail: string };

/**
 * What an uploaded video is, read with ffprobe from a file on disk (an MP4 may keep its index at
 * the end, so a pipe is not enough): the container must be MP4/MOV with a video stream whose
 * first frame decodes. `detail` (ffprobe's words) is for logs only.
 */
export async function probeUpload(tools: MediaTools, path: string, timeoutMs: number): Promise<UploadProbe> {
  let stdout: string;
  try {
    ({ stdout } = await run(
      tools.ffprobePath,
      ['-v', 'error', '-show_entries', 'stream=codec_type,width,height,avg_frame_rate,r_frame_rate:format=format_name,duration', '-of', 'json', path],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
    ));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { killed?: boolean; stderr?: string };
    if (e.code === 'ENOENT') return { ok: false, reason: 'unavailable', detail: e.message };
    if (e.killed) return { ok: false, reason: 'timeout', detail: `killed after ${timeoutMs} ms` };
    return { ok: false, reason: 'undecodable', detail: (e.stderr ?? e.message).slice(0, 2000) };
  }
  let j: { streams?: Array<Record<string, unknown>>; format?: { format_name?: string; duration?: string } };
  try {
    j = JSON.parse(stdout);
  } catch {
    return { ok: false, reason: 'undecodable', detail: 'ffprobe printed no JSON' };
  }
  if (!/(^|,)(mp4|mov)(,|$)/.test(j.format?.format_name ?? '')) return { ok: false, reason: 'not_mp4', detail: j.format?.format_name ?? 'unknown' };
  const s = j.streams?.find((x) => x.codec_type === 'video');
  if (!s) return { ok: false, reason: 'no_video', detail: 'no video stream' };
  const rate = (v: unknown): number => {
    const [num, den] = String(v).split('/').map(Number);
    return num && den ? num / den : NaN;
  };
  const fps = Number.isFinite(rate(s.avg_frame_rate)) ? rate(s.avg_frame_rate) : rate(s.r_frame_rate);
  const out = { width: Number(s.width), height: Number(s.height), fps, durationSeconds: Number(j.format?.duration) };
  if (![out.width, out.height, out.fps, out.durationSeconds].every((v) => Number.isFinite(v) && v > 0)) {
    return { ok: false, reason: 'undecodable', detail: `incomplete stream info ${JSON.stringify(out)}` };
  }
  // The header can lie: decode the first frame, as a render will have to.
  try {
    await run(tools.ffmpegPath, ['-v', 'error', '-xerror', '-i', path, '-frames:v', '1', '-f', 'null', '-'], { timeout: timeoutMs, killSignal: 'SIGKILL' });
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string; message: string };
    if (e.killed) return { ok: false, reason: 'timeout', detail: `killed after ${timeoutMs} ms` };
    return { ok: false, reason: 'undecodable', detail: (e.stderr ?? e.message).slice(0, 2000) };
  }
  return { ok: true, ...out };
}

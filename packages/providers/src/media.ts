import { execFile, spawn } from 'node:child_process';
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
  await run(tools.ffmpegPath, [
    '-y', '-v', 'error', '-ss', String(Math.max(0, durationSeconds / 2)), '-i', video,
    '-frames:v', '1', '-q:v', '3', '-f', 'image2', '-c:v', 'mjpeg', out,
  ]);
}

/** A 5x5 grid of frames spread over the video, each 160 px wide (JPEG). */
export async function makeSpritesheet(tools: MediaTools, video: string, out: string, durationSeconds: number): Promise<void> {
  const every = Math.max(durationSeconds / 25, 0.04);
  await run(tools.ffmpegPath, [
    '-y', '-v', 'error', '-i', video,
    '-vf', `fps=1/${every.toFixed(4)},scale=160:-2,tile=5x5`,
    '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-c:v', 'mjpeg', out,
  ]);
}

/** ffmpeg's demuxer for each accepted image type, so bytes are read as the type they claim. */
const IMAGE_DEMUXER: Record<string, string> = { 'image/png': 'png_pipe', 'image/jpeg': 'jpeg_pipe', 'image/webp': 'webp_pipe' };

export type ImageDecodeResult = { ok: true } | { ok: false; reason: 'undecodable' | 'timeout'; detail: string } | { ok: false; reason: 'unavailable'; detail: string };

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

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Test images and videos made with ffmpeg, and what ffprobe/ffmpeg see in the videos Reelay serves. */
const ffmpeg = (): string => process.env.FFMPEG_PATH ?? 'ffmpeg';

/** ffprobe of bytes in memory: what a user would see with `ffprobe file.mp4`. */
export function probe(bytes: Buffer): { width: number; height: number; fps: number; duration: number; frames: number; codec: string } {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-probe-'));
  try {
    const file = join(dir, 'v');
    writeFileSync(file, bytes);
    // prettier-ignore
    const out = execFileSync(process.env.FFPROBE_PATH ?? 'ffprobe', [
      '-v', 'error', '-select_streams', 'v:0', '-count_packets',
      '-show_entries', 'stream=width,height,r_frame_rate,codec_name,nb_read_packets:format=duration,format_name', '-of', 'json', file,
    ]).toString();
    const j = JSON.parse(out);
    const s = j.streams[0];
    const [num, den] = s.r_frame_rate.split('/').map(Number);
    return { width: s.width, height: s.height, fps: num / den, duration: Number(j.format.duration), frames: Number(s.nb_read_packets), codec: s.codec_name };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const isJpeg = (b: Buffer): boolean => b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
export const isMp4 = (b: Buffer): boolean => b.length > 12 && b.toString('latin1', 4, 8) === 'ftyp';

/** A small solid-colour PNG (e.g. color "red" or "0x00ff00"). */
export function solidPng(color: string, width = 64, height = width): Buffer {
  // prettier-ignore
  return execFileSync(ffmpeg(), [
    '-v', 'error', '-f', 'lavfi', '-i', `color=c=${color}:s=${width}x${height}`, '-frames:v', '1', '-c:v', 'png', '-f', 'image2', 'pipe:1',
  ]);
}

/** A real H.264 MP4 of ffmpeg's test pattern, as an upstream would serve it. */
export function testMp4(opts: { width: number; height: number; fps: number; seconds?: number }): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-testsrc-'));
  try {
    const file = join(dir, 'testsrc.mp4');
    // prettier-ignore
    execFileSync(ffmpeg(), [
      '-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${opts.width}x${opts.height}:rate=${opts.fps}`, '-t', String(opts.seconds ?? 1),
      '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-movflags', '+faststart', file,
    ]);
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small solid-colour JPEG or WebP, made by ffmpeg. */
export function solidImage(format: 'jpeg' | 'webp', color = 'red', size = 64): Buffer {
  const codec = format === 'jpeg' ? ['-c:v', 'mjpeg', '-f', 'image2'] : ['-c:v', 'libwebp', '-f', 'webp'];
  // prettier-ignore
  return execFileSync(ffmpeg(), [
    '-v', 'error', '-f', 'lavfi', '-i', `color=c=${color}:s=${size}x${size}`, '-frames:v', '1', '-pix_fmt', format === 'jpeg' ? 'yuvj420p' : 'yuv420p', ...codec, 'pipe:1',
  ]);
}

/** The average RGB of the frame at `atSeconds`, as ffmpeg sees it (scaled down to one pixel). */
export function averageColor(video: Buffer, atSeconds: number): [number, number, number] {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-frame-'));
  try {
    const file = join(dir, 'v.mp4');
    writeFileSync(file, video);
    // prettier-ignore
    const rgb = execFileSync(ffmpeg(), [
      '-v', 'error', '-ss', String(atSeconds), '-i', file, '-frames:v', '1', '-vf', 'scale=1:1:flags=area', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
    ]);
    return [rgb[0]!, rgb[1]!, rgb[2]!];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

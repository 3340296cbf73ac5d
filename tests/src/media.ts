import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** ffprobe of bytes in memory: what a user would see with `ffprobe file.mp4`. */
export function probe(bytes: Buffer): { width: number; height: number; fps: number; duration: number; frames: number; codec: string } {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-probe-'));
  try {
    const file = join(dir, 'v');
    writeFileSync(file, bytes);
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

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJpeg, probe, testMp4 } from '@reelay/testing';
import { makeSpritesheet, makeThumbnail } from './media';

const tools = { ffmpegPath: process.env.FFMPEG_PATH ?? 'ffmpeg', ffprobePath: process.env.FFPROBE_PATH ?? 'ffprobe' };
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'media-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test.each([
  ['a 2 s clip', 2],
  ['a clip of one frame', 0.1],
])('%s gets a thumbnail and a spritesheet', async (_, seconds) => {
  const video = join(dir, 'in.mp4');
  writeFileSync(video, testMp4({ width: 96, height: 64, fps: 10, seconds }));
  await makeThumbnail(tools, video, join(dir, 'thumb.jpg'), seconds);
  await makeSpritesheet(tools, video, join(dir, 'sprite.jpg'), seconds);
  const thumb = readFileSync(join(dir, 'thumb.jpg'));
  expect(isJpeg(thumb)).toBe(true);
  expect(probe(thumb).width).toBe(96);
  expect(isJpeg(readFileSync(join(dir, 'sprite.jpg')))).toBe(true);
});

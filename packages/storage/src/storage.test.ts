import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStorage } from './index';

test('a source that fails before the copy starts (file gone) rejects put instead of crashing the process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-storage-'));
  try {
    const storage = new LocalStorage(dir);
    // The open fails while put is still preparing the target folder.
    await expect(storage.put('videos/x/0/video.mp4', createReadStream(join(dir, 'missing.mp4')))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.size('videos/x/0/video.mp4')).toBeNull();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writes in progress and scratch folders live in .tmp/, and the sweep reclaims only old ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelay-storage-'));
  try {
    const storage = new LocalStorage(dir);
    await storage.put('videos/a/0/video.mp4', Readable.from([Buffer.from('bytes')]));
    const fresh = await storage.scratchDir('finalize');
    // What a process killed mid-write leaves: a temp file, an hour old.
    const stale = join(dir, '.tmp', '4242-1-abc.tmp');
    writeFileSync(stale, 'half an object');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(stale, hourAgo, hourAgo);
    expect(readdirSync(join(dir, 'videos/a/0'))).toEqual(['video.mp4']); // nothing beside the object
    expect(await storage.sweepTemp(600_000)).toBe(1);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(await storage.size('videos/a/0/video.mp4')).toBe(5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

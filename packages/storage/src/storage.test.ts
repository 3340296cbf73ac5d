import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
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

import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStorage } from './index';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'reelay-storage-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a source that fails while put() prepares its folder (a vanished file) rejects put(), nothing is stored', async () => {
  const storage = new LocalStorage(join(dir, 'store'));
  // The open error fires on a later tick, typically while put() awaits mkdir.
  const source = createReadStream(join(dir, 'missing.mp4'));
  await expect(storage.put('deep/a/b/video.mp4', source)).rejects.toMatchObject({ code: 'ENOENT' });
  expect(await storage.size('deep/a/b/video.mp4')).toBeNull();
});

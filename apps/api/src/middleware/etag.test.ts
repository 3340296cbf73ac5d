import type { AddressInfo } from 'node:net';
import express from 'express';
import { weakEtag } from './etag';

// The same ETags as Express's default, so conditional requests keep working as before.
async function etagsFrom(configure: (app: express.Express) => void, bodies: unknown[]): Promise<(string | null)[]> {
  const app = express();
  configure(app);
  app.get('/:i', (req, res) => {
    res.json(bodies[Number(req.params.i)]);
  });
  app.get('/empty/:i', (_req, res) => {
    res.send('');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const paths = [...bodies.map((_, i) => `/${i}`), '/empty/0'];
    return await Promise.all(paths.map(async (p) => (await fetch(base + p)).headers.get('etag')));
  } finally {
    server.close();
  }
}

test('weakEtag gives exactly the ETag Express gives by default, for JSON and empty bodies', async () => {
  const bodies = [{ id: 'vid_1', status: 'pending', progress: 0 }, { prompt: 'ünïcødé 🎬', n: 2 }, [], 'x'.repeat(5000)];
  const defaults = await etagsFrom(() => undefined, bodies);
  const ours = await etagsFrom((app) => app.set('etag', weakEtag), bodies);
  expect(defaults.every((e) => e !== null && e.startsWith('W/"'))).toBe(true);
  expect(ours).toEqual(defaults);
});

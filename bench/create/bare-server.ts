import { randomBytes } from 'node:crypto';
import express from 'express';

/**
 * The baseline: bare Express answering the same routes with a video object of the same shape,
 * with no auth, validation, database or queue. Prints its URL on stdout once listening.
 */
const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '25mb' }));

function videoObject(id: string, body: Record<string, unknown>): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    id,
    object: 'video',
    model: body.model ?? 'sora-1.0',
    status: 'pending',
    progress: 0,
    created_at: now,
    seconds: `${Number(body.duration ?? 4).toFixed(1)}`,
    completed_at: null,
    expires_at: now + 86400,
    size: `${body.width ?? 1280}x${body.height ?? 720}`,
    error: null,
    metadata: { fps: body.fps ?? 24, seed: 12345 },
    prompt: body.prompt ?? null,
    user: null,
    n: body.n ?? 1,
    remixed_from_video_id: null,
  };
}

app.post('/v1/videos', (req, res) => {
  res.json(videoObject(`vid_${randomBytes(12).toString('hex')}`, req.body ?? {}));
});
app.get('/v1/videos/:id', (req, res) => {
  res.json(videoObject(req.params.id, {}));
});

const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  console.log(`bare listening on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

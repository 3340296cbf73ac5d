import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The baseline: a bare Node server that answers every GET with one file through
 * fs.createReadStream (one byte range when asked), with no auth, database or routing.
 * Prints its URL on stdout once listening.
 */
const file = process.env.BENCH_CONTENT_FILE!;
const size = statSync(file).size;

const server = createServer((req, res) => {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const end = m && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  res.writeHead(m ? 206 : 200, {
    'content-type': 'video/mp4',
    'content-length': String(end - start + 1),
    ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  createReadStream(file, { start, end }).pipe(res);
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  console.log(`bare listening on http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

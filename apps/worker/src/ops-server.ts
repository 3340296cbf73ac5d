import { createServer, type Server } from 'node:http';
import { checkReadiness, registry } from '@reelay/observability';

/**
 * The worker's own small HTTP listener: GET /metrics (Prometheus), /healthz and /readyz for
 * Kubernetes probes. The worker has no API, so this is how its counters are scraped.
 */
export async function startOpsServer(opts: {
  host: string;
  port: number;
  readiness: Record<string, () => Promise<unknown>>;
  readinessTimeoutMs: number;
}): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'application/json', '{"status":"method not allowed"}');
    if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      void checkReadiness(opts.readiness, opts.readinessTimeoutMs).then((r) =>
        send(r.ready ? 200 : 503, 'application/json', JSON.stringify({ status: r.ready ? 'ok' : 'unavailable', checks: r.checks })),
      );
      return;
    }
    if (path === '/metrics') {
      void registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        () => send(500, 'text/plain', 'metrics unavailable'),
      );
      return;
    }
    send(404, 'application/json', '{"status":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { server, url: `http://${opts.host}:${port}` };
}

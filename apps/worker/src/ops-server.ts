import { createServer, type Server } from 'node:http';
import { checkReadiness, registry } from '@reelay/observability';
import { withTimeout } from '@reelay/queue';

/**
 * The worker's own small HTTP listener: GET /metrics (Prometheus), /healthz and /readyz for
 * Kubernetes probes. The worker has no API, so this is how its counters are scraped.
 * /readyz: 200 when every dependency answers; 503 `unavailable` naming the failing check; 503
 * `recovering` while live tasks are still without a job after Redis lost its data.
 */
export async function startOpsServer(opts: {
  host: string;
  port: number;
  readiness: Record<string, () => Promise<unknown>>;
  readinessTimeoutMs: number;
  /** Details of a recovery in progress, or null when there is none. */
  recovery?: () => Promise<Record<string, unknown> | null>;
}): Promise<{ server: Server; url: string }> {
  const readyz = async (): Promise<{ status: number; body: unknown }> => {
    const report = await checkReadiness(opts.readiness, opts.readinessTimeoutMs);
    if (!report.ready) return { status: 503, body: { status: 'unavailable', checks: report.checks } };
    if (!opts.recovery) return { status: 200, body: { status: 'ok', checks: report.checks } };
    try {
      const recovery = await withTimeout(opts.recovery(), opts.readinessTimeoutMs, 'recovery check');
      if (recovery) return { status: 503, body: { status: 'recovering', checks: report.checks, recovery } };
      return { status: 200, body: { status: 'ok', checks: report.checks } };
    } catch (err) {
      return { status: 503, body: { status: 'unavailable', checks: { ...report.checks, recovery: (err as Error).message } } };
    }
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'application/json', '{"status":"method not allowed"}');
    if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}');
    if (path === '/readyz') {
      void readyz().then((r) => send(r.status, 'application/json', JSON.stringify(r.body)));
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

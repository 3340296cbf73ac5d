/**
 * One Reelay worker process for the in-flight bench: the real startWorker with a metrics hook
 * that reports every poll's lag (actual minus scheduled time), plus RSS and CPU samples, to the
 * parent over IPC.
 */
import { parseConfig } from '../../packages/config/src';
import { startWorker } from '../../apps/worker/src/runtime';

async function main(): Promise<void> {
  const lags: number[] = [];
  const config = parseConfig(process.env);
  const runtime = await startWorker(config, { metrics: { pollLag: (ms) => lags.push(ms) } });
  let peakRss = 0;
  const cpuStart = process.cpuUsage();
  const started = Date.now();
  const sample = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const batch = lags.splice(0);
    const mem = process.memoryUsage();
    process.send!({
      kind: 'sample',
      rss: mem.rss,
      heapMB: Math.round(mem.heapUsed / 1e6),
      heapTotalMB: Math.round(mem.heapTotal / 1e6),
      externalMB: Math.round(mem.external / 1e6),
      lags: batch,
    });
  }, 1000);
  process.on('message', (msg: { kind: string }) => {
    if (msg.kind !== 'stop') return;
    clearInterval(sample);
    const cpu = process.cpuUsage(cpuStart);
    const wallMs = Date.now() - started;
    process.send!(
      {
        kind: 'final',
        lags: lags.splice(0),
        peakRss: Math.max(peakRss, process.memoryUsage().rss),
        maxRssKb: process.resourceUsage().maxRSS,
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        wallMs,
      },
      () => void runtime.close().then(() => process.exit(0)),
    );
  });
  process.send!({ kind: 'ready' });
}

void main();

/**
 * The OpenAI-compatible emulator as its own process for the in-flight bench, so its CPU and
 * memory do not count against the worker. Tasks run 60-120 s. Prints its URL on stdout; on
 * SIGTERM prints its request counts as one JSON line.
 */
import { OpenAIVideosEmulator } from '@reelay/testing';

async function main(): Promise<void> {
  const emu = new OpenAIVideosEmulator({
    apiKey: process.env.BENCH_UPSTREAM_KEY ?? null,
    behaviour: { taskMs: [Number(process.env.BENCH_TASK_MIN_MS ?? 60_000), Number(process.env.BENCH_TASK_MAX_MS ?? 120_000)], queuedMs: 0 },
    keepLog: false,
  });
  await emu.start();
  process.stdout.write(`URL ${emu.url}\n`);
  process.on('SIGTERM', () => {
    process.stdout.write(`COUNTS ${JSON.stringify(emu.counts)}\n`);
    void emu.close().then(() => process.exit(0));
  });
}

void main();

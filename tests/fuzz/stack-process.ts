/**
 * The stack under fuzz, in a process of its own: an API and a worker with the preview renderer on
 * the real Redis and Postgres. A separate process, so that a request that blocks its event loop
 * shows as a hang to the fuzzer instead of freezing the fuzzer with it.
 *
 * Prints one JSON line ({url, keys, adminToken, ...}) once it listens; stops on SIGTERM.
 */
import { writeTestCatalog } from '@reelay/testing';
import { startStack } from '../src/harness';

async function main(): Promise<void> {
  const stack = await startStack({
    REELAY_ADMIN_TOKEN: process.env.FUZZ_ADMIN_TOKEN ?? 'fuzz-admin-token-0123456789abcdef',
    REELAY_MODELS_FILE: writeTestCatalog(),
    WORKER_RENDER_SLOTS: '2',
    WORKER_ADMISSION_INTERVAL_MS: '200',
    LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'fatal',
  });
  const other = await stack.newKey();
  const spare = await stack.newKey();
  process.stdout.write(
    `${JSON.stringify({ url: stack.url, owner: stack.key, other, spare, adminToken: stack.config.REELAY_ADMIN_TOKEN, pid: process.pid })}\n`,
  );
  let closing = false;
  const stop = (): void => {
    if (closing) return;
    closing = true;
    const hard = setTimeout(() => process.exit(0), 10_000);
    hard.unref();
    stack.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent went away (killed, or jest finished): stop too.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((err: Error) => {
  process.stderr.write(`fuzz stack: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

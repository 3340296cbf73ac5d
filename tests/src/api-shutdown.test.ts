import { connect } from 'node:net';
import { createApiKey, createDb } from '@reelay/db';
import { freePort, spawnApi, until } from '@reelay/testing';

/**
 * SIGTERM to an API process with a request in flight: it stops accepting new connections, lets
 * the request finish (the client is still sending its body when the signal arrives), then exits 0.
 */
// While the API starts or stops, requests fail outright: count that as "not yet".
const untilOk = (what: string, fn: () => Promise<boolean>) => until(what, () => fn().catch(() => false), 30_000);

test('SIGTERM: in-flight request completes, new connections are refused, the process exits 0', async () => {
  const port = await freePort();
  const db = createDb(process.env.DATABASE_URL!, 2);
  const { secret } = await createApiKey(db, { name: 'shutdown-test' });
  const api = spawnApi({ PORT: String(port), REELAY_QUEUE_PREFIX: `test-shutdown-${process.pid}`, SHUTDOWN_GRACE_MS: '10000', LOG_LEVEL: 'info' });
  try {
    await untilOk('the API to answer', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);

    const body = JSON.stringify({ prompt: 'in flight during shutdown', duration: 1, width: 128, height: 128, fps: 24 });
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    let response = '';
    socket.on('data', (d: Buffer) => (response += d.toString()));
    const ended = new Promise((r) => socket.once('close', r));
    socket.write(
      `POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${secret}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 10),
    );
    await new Promise((r) => setTimeout(r, 300));

    api.child.kill('SIGTERM');
    await untilOk('the listener to close', async () => {
      try {
        await fetch(`http://127.0.0.1:${port}/healthz`);
        return false;
      } catch {
        return true; // connection refused: no longer accepting
      }
    });
    expect(api.child.exitCode).toBeNull(); // still finishing the request in flight

    const sentAt = Date.now();
    socket.write(body.slice(10));
    await ended;
    const closedMs = Date.now() - sentAt;
    expect(response).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(response).toMatch(/\r\nConnection: close\r\n/i); // the client is told not to reuse it
    const created = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { id: string; status: string };
    expect(created.status).toBe('pending');
    expect((await api.exited()).code).toBe(0);
    process.stdout.write(`in-flight request answered and connection closed ${closedMs} ms after the body was sent; exited ${Date.now() - sentAt} ms after\n`);
    expect(api.output()).toMatch(/"msg":"stopped"/);
    expect(await db.task.findUnique({ where: { id: created.id } })).not.toBeNull();
    // No worker serves this queue: remove the task so no other test's reconciler adopts it.
    await db.task.delete({ where: { id: created.id } });
  } finally {
    if (api.child.exitCode === null) await api.stop('SIGKILL');
    await db.$disconnect();
  }
});

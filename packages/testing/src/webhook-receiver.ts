import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface ReceivedWebhook {
  headers: IncomingMessage['headers'];
  body: string;
  /** The status this receiver answered with. */
  answered: number;
}

/**
 * A loopback webhook receiver: records every delivery and answers the status `plan` gives for the
 * n-th one (200 by default). Its URL ends in /hook.
 */
export function webhookReceiver(plan: (n: number) => number = () => 200): Promise<{ server: Server; url: string; received: ReceivedWebhook[] }> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = plan(received.length + 1);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, received })),
  );
}

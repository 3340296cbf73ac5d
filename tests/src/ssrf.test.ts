import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { averageColor, http, isMp4, solidPng, waitForVideo } from '@reelay/testing';
import { startStack, type Stack } from './harness';

/**
 * Image URLs are fetched through the SSRF guard. Two loopback servers: `trusted` is the one
 * internal image host the operator allow-lists (REELAY_FETCH_ALLOW_HOSTS=127.0.0.1:<port>), and
 * `forbidden` listens on 127.0.0.1 and ::1 and must never see a single connection. 10.x and
 * 169.254.x URLs are literals refused before any DNS or connection; nothing is ever sent there.
 */
let stack: Stack;
let trusted: Server;
let forbidden: Server[];
let trustedPort: number;
let forbiddenPort: number;
let forbiddenConnections = 0;
const trustedRequests: string[] = [];
const RED_PNG = solidPng('red', 96);

const listen = (server: Server, host: string, port = 0) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

beforeAll(async () => {
  const recorder = () => {
    const s = createServer((_req, res) => res.end('should never be reached'));
    s.on('connection', () => forbiddenConnections++);
    return s;
  };
  forbidden = [recorder(), recorder()];
  forbiddenPort = await listen(forbidden[0]!, '127.0.0.1');
  await listen(forbidden[1]!, '::1', forbiddenPort);

  trusted = createServer((req, res) => {
    trustedRequests.push(req.url ?? '');
    if (req.url === '/a.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(RED_PNG);
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: `http://127.0.0.1:${forbiddenPort}/a.png` }).end();
    } else res.writeHead(404).end();
  });
  trustedPort = await listen(trusted, '127.0.0.1');
  stack = await startStack({ REELAY_FETCH_ALLOW_HOSTS: `127.0.0.1:${trustedPort}` });
});

afterAll(async () => {
  await stack?.close();
  for (const s of [trusted, ...forbidden]) await new Promise((r) => s?.close(r));
});

const refused = (): [string, () => string][] => [
  ['127.0.0.1 (loopback)', () => `http://127.0.0.1:${forbiddenPort}/a.png`],
  ['localhost', () => `http://localhost:${forbiddenPort}/a.png`],
  ['[::1] (IPv6 loopback)', () => `http://[::1]:${forbiddenPort}/a.png`],
  ['169.254.169.254 (cloud metadata)', () => 'http://169.254.169.254/latest/meta-data/'],
  ['10.0.0.1 (private)', () => 'http://10.0.0.1/a.png'],
  ['2130706433 (decimal loopback)', () => `http://2130706433:${forbiddenPort}/a.png`],
  ['a redirect from the allowed host to a loopback port that is not allowed', () => `http://127.0.0.1:${trustedPort}/redirect`],
];

test.each(refused())('%s is refused with a 400 naming image, no task, no connection', async (name, url) => {
  const prompt = `ssrf ${name} ${Date.now()}`;
  const res = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { prompt, image: url(), duration: 1, width: 128, height: 128, fps: 24 },
  });
  expect(res.status).toBe(400);
  expect(res.body.error).toMatchObject({ code: 'invalid_parameter', type: 'invalid_request_error', param: 'image' });
  expect(res.body.error.message).toMatch(/^Invalid parameter: image /);
  expect(await stack.db.task.count({ where: { prompt } })).toBe(0);
  expect(forbiddenConnections).toBe(0);
});

test('the redirect case did reach the allowed host, and only it', () => {
  expect(trustedRequests).toContain('/redirect');
  expect(forbiddenConnections).toBe(0);
});

test('the same refusal applies to input_reference.image_url', async () => {
  const res = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { prompt: 'ssrf ref', input_reference: { image_url: `http://127.0.0.1:${forbiddenPort}/a.png` }, seconds: '1', size: '128x128' },
  });
  expect(res.status).toBe(400);
  expect(res.body.error.message).toMatch(/image/);
  expect(forbiddenConnections).toBe(0);
});

test('an image on the allow-listed host works end to end and the video shows it', async () => {
  const res = await http(stack, 'POST', '/v1/videos', {
    key: stack.key,
    json: { image: `http://127.0.0.1:${trustedPort}/a.png`, duration: 1, width: 128, height: 128, fps: 24 },
  });
  expect(res.status).toBe(200);
  const { video } = await waitForVideo(stack, stack.key, res.body.id, 120_000);
  expect(video.status).toBe('completed');
  const content = await http(stack, 'GET', `/v1/videos/${video.id}/content`, { key: stack.key });
  expect(isMp4(content.bytes)).toBe(true);
  // The frames are the red input image (under a small caption), not the generated gradient.
  const [r, g, b] = averageColor(content.bytes, 0.5);
  expect(r).toBeGreaterThan(120);
  expect(r).toBeGreaterThan(2 * g);
  expect(r).toBeGreaterThan(2 * b);
  expect(forbiddenConnections).toBe(0);
});

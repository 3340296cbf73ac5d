import dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { safeFetch, UnsafeUrlError, type SafeFetchOptions } from './index';

// Every server here listens on loopback, and nothing may leave it: names other than localhost
// (from /etc/hosts) are refused by this DNS stub unless a test answers them itself.
const realLookup = dns.promises.lookup.bind(dns.promises);
beforeEach(() => {
  jest.spyOn(dns.promises, 'lookup').mockImplementation((async (host: string, opts: dns.LookupAllOptions) => {
    if (host === 'localhost') return realLookup(host, opts);
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  }) as never);
});
afterEach(() => jest.restoreAllMocks());

interface TestServer {
  port: number;
  url: string;
  connections: number;
  requests: http.IncomingMessage[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(host: string, handler: http.RequestListener, port = 0): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    t.requests.push(req);
    handler(req, res);
  });
  const t: TestServer = {
    port: 0,
    url: '',
    connections: 0,
    requests: [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => t.connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  t.port = (server.address() as AddressInfo).port;
  t.url = `http://${host.includes(':') ? `[${host}]` : host}:${t.port}`;
  servers.push(t);
  return t;
}

const ok: http.RequestListener = (_req, res) => res.end('hello');
const redirectTo =
  (location: string): http.RequestListener =>
  (_req, res) => {
    res.writeHead(302, { location });
    res.end();
  };

const onlyLocal = (ip: string): boolean => ip === '127.0.0.1';
const base: SafeFetchOptions = { maxBytes: 1024, timeoutMs: 5000 };

async function refused(url: string, opts: SafeFetchOptions = base): Promise<UnsafeUrlError> {
  const err = await safeFetch(url, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UnsafeUrlError)) throw new Error(`expected ${url} to be refused, got ${String(err)}`);
  return err;
}

async function canBind(host: string): Promise<boolean> {
  const server = http.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, host, () => server.close(() => resolve(true)));
  });
}

describe('safeFetch refuses non-public hosts before connecting', () => {
  test.each([
    (p: number) => `http://127.0.0.1:${p}/x`,
    (p: number) => `http://localhost:${p}/x`,
    (p: number) => `http://2130706433:${p}/`,
    (p: number) => `http://0x7f.1:${p}/`,
    (p: number) => `http://[::ffff:127.0.0.1]:${p}/`,
  ])('%s', async (toUrl) => {
    const server = await serve('127.0.0.1', ok);
    const err = await refused(toUrl(server.port));
    expect(err.reason).toBe('address');
    expect(err.message).toMatch(/^URL host \S+ resolves to a non-public address \((127\.0\.0\.1|::ffff:7f00:1)\)$/);
    expect(server.connections).toBe(0);

    // The same URL does reach the server once loopback is allowed, so the zero above means something.
    const res = await safeFetch(toUrl(server.port), { ...base, allowedAddress: () => true });
    expect(res.body.toString()).toBe('hello');
    expect(server.connections).toBe(1);
  });

  test('http://[::1]', async () => {
    if (!(await canBind('::1'))) {
      expect((await refused('http://[::1]:9/x')).reason).toBe('address');
      return;
    }
    const server = await serve('::1', ok);
    const err = await refused(`${server.url}/x`);
    expect(err.reason).toBe('address');
    expect(err.message).toBe('URL host ::1 resolves to a non-public address (::1)');
    expect(server.connections).toBe(0);
  });

  test.each(['file:///etc/passwd', 'ftp://127.0.0.1/', 'gopher://127.0.0.1:70/', 'not a url'])('refuses %s by scheme', async (url) => {
    expect((await refused(url, { ...base, allowedAddress: () => true })).reason).toBe('scheme');
  });
});

describe('safeFetch with a test-only allowance for 127.0.0.1', () => {
  const opts: SafeFetchOptions = { ...base, allowedAddress: onlyLocal };

  test('returns status, headers and the exact bytes', async () => {
    const payload = Buffer.from([0, 1, 2, 254, 255, 10, 13]);
    const server = await serve('127.0.0.1', (req, res) => {
      res.writeHead(201, { 'content-type': 'application/octet-stream', 'x-method': req.method ?? '' });
      res.end(payload);
    });
    const res = await safeFetch(`${server.url}/img?a=1`, { ...opts, method: 'post', body: 'x' });
    expect(res.status).toBe(201);
    expect(res.headers['x-method']).toBe('POST');
    expect(res.body.equals(payload)).toBe(true);
    expect(res.finalUrl).toBe(`${server.url}/img?a=1`);
    expect(server.requests[0]?.url).toBe('/img?a=1');
  });

  test('a body over maxBytes is refused, streamed or declared; exactly maxBytes is fine', async () => {
    const server = await serve('127.0.0.1', (req, res) => {
      const size = Number(req.url?.slice(3)); // /s/<n> or /c/<n>
      if (req.url?.startsWith('/c')) {
        res.setHeader('content-length', size);
        res.end(Buffer.alloc(size));
        return;
      }
      // chunked, no length: the limit has to be enforced while streaming
      for (let sent = 0; sent < size; sent += 100) res.write(Buffer.alloc(Math.min(100, size - sent)));
      res.end();
    });
    for (const kind of ['s', 'c']) {
      const err = await refused(`${server.url}/${kind}/1025`, opts);
      expect(err.reason).toBe('too_large');
      expect(err.message).toBe('response from 127.0.0.1 is larger than 1024 bytes');
      expect((await safeFetch(`${server.url}/${kind}/1024`, opts)).body.length).toBe(1024);
    }
  });

  test('a declared length over maxBytes is refused without waiting for the body', async () => {
    const server = await serve('127.0.0.1', (_req, res) => {
      res.writeHead(200, { 'content-length': 10_000_000 });
      res.write('only this, then nothing'); // never ends: reading on would hit the timeout instead
    });
    expect((await refused(`${server.url}/`, { ...opts, timeoutMs: 3000 })).reason).toBe('too_large');
  });

  test('a server that never answers times out within the budget', async () => {
    const server = await serve('127.0.0.1', () => undefined);
    const started = Date.now();
    const err = await refused(`${server.url}/hang`, { ...opts, timeoutMs: 300 });
    const elapsed = Date.now() - started;
    expect(err.reason).toBe('timeout');
    expect(server.requests).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  test('the timeout covers all hops together, not each one', async () => {
    const server = await serve('127.0.0.1', (req, res) => {
      const n = Number(req.url?.slice(1));
      setTimeout(() => {
        res.writeHead(302, { location: `/${n + 1}` });
        res.end();
      }, 150);
    });
    const err = await refused(`${server.url}/0`, { ...opts, timeoutMs: 400, maxRedirects: 10 });
    expect(err.reason).toBe('timeout');
    expect(server.requests.length).toBeLessThanOrEqual(3);
  });

  test.each(['file:///etc/passwd', 'ftp://127.0.0.1/x', 'javascript:alert(1)'])('a redirect to %s is refused', async (location) => {
    const server = await serve('127.0.0.1', redirectTo(location));
    const err = await refused(`${server.url}/`, opts);
    expect(err.reason).toBe('redirect');
    expect(err.message).toBe('redirect from 127.0.0.1 to a non-http(s) URL was refused');
  });

  test('follows up to maxRedirects hops and refuses one more', async () => {
    const server = await serve('127.0.0.1', (req, res) => {
      const n = Number(req.url?.slice(1));
      if (n >= 2) return res.end(`done after ${n}`);
      res.writeHead(n % 2 ? 307 : 301, { location: `/${n + 1}` });
      res.end();
    });
    const res = await safeFetch(`${server.url}/0`, { ...opts, maxRedirects: 2 });
    expect(res.body.toString()).toBe('done after 2');
    expect(res.finalUrl).toBe(`${server.url}/2`);

    server.requests.length = 0;
    const err = await refused(`${server.url}/0`, { ...opts, maxRedirects: 1 });
    expect(err.reason).toBe('redirect');
    expect(err.message).toBe('too many redirects (more than 1)');
    expect(server.requests.map((r) => r.url)).toEqual(['/0', '/1']);
  });

  test('maxRedirects defaults to 3', async () => {
    const server = await serve('127.0.0.1', (req, res) => {
      res.writeHead(302, { location: `/${Number(req.url?.slice(1)) + 1}` });
      res.end();
    });
    expect((await refused(`${server.url}/0`, opts)).reason).toBe('redirect');
    expect(server.requests.map((r) => r.url)).toEqual(['/0', '/1', '/2', '/3']);
  });
});

describe('redirects are vetted hop by hop', () => {
  test('a redirect to another loopback address is refused and never connected', async () => {
    if (!(await canBind('127.0.0.2'))) throw new Error('this test needs 127.0.0.2 (Linux routes all of 127/8)');
    const b = await serve('127.0.0.2', ok);
    const a = await serve('127.0.0.1', redirectTo(`${b.url}/secret`));

    const err = await refused(`${a.url}/`, { ...base, allowedAddress: onlyLocal });
    expect(err.reason).toBe('address');
    expect(err.message).toBe('URL host 127.0.0.2 resolves to a non-public address (127.0.0.2)');
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(0);

    // Control: allowing B as well, the same redirect is followed and B is reached.
    const allowBoth = (ip: string): boolean => ip === '127.0.0.1' || ip === '127.0.0.2';
    const res = await safeFetch(`${a.url}/`, { ...base, allowedAddress: allowBoth });
    expect(res.finalUrl).toBe(`${b.url}/secret`);
    expect(b.connections).toBe(1);
  });

  test('after a 302 a POST becomes a GET, and credentials do not follow to another origin', async () => {
    const b = await serve('127.0.0.2', ok);
    const a = await serve('127.0.0.1', redirectTo(`${b.url}/next`));
    await safeFetch(`${a.url}/`, {
      ...base,
      method: 'POST',
      body: '{"a":1}',
      headers: { Authorization: 'Bearer s3cret', 'Content-Type': 'application/json', 'X-Keep': 'yes' },
      allowedAddress: (ip) => ip.startsWith('127.'),
    });
    expect(a.requests[0]?.headers.authorization).toBe('Bearer s3cret');
    const hop = b.requests[0];
    expect(hop?.method).toBe('GET');
    expect(hop?.headers.authorization).toBeUndefined();
    expect(hop?.headers['content-type']).toBeUndefined();
    expect(hop?.headers['x-keep']).toBe('yes');
  });
});

test('the connection goes to the vetted address: no second DNS lookup can rebind it', async () => {
  // A rebinding resolver: the first answer (the one that is checked) is A, any later one is B.
  const a = await serve('127.0.0.1', ok);
  const b = await serve('127.0.0.2', ok, a.port);
  jest.spyOn(dns.promises, 'lookup').mockResolvedValue([{ address: '127.0.0.1', family: 4 }] as never);
  const later = jest.spyOn(dns, 'lookup').mockImplementation(((_h: string, o: unknown, cb: unknown) => {
    const callback = (typeof o === 'function' ? o : cb) as (...args: unknown[]) => void;
    const all = typeof o === 'object' && o !== null && (o as { all?: boolean }).all;
    process.nextTick(() => (all ? callback(null, [{ address: '127.0.0.2', family: 4 }]) : callback(null, '127.0.0.2', 4)));
  }) as never);
  const url = `http://rebind.test:${a.port}/`;

  // Control: a plain undici agent does its own lookup at connect time and lands on B.
  const plain = new Agent();
  await (await request(url, { dispatcher: plain })).body.dump();
  await plain.destroy();
  expect(b.connections).toBe(1);
  later.mockClear();

  const res = await safeFetch(url, { ...base, allowedAddress: onlyLocal });
  expect(res.status).toBe(200);
  expect(a.connections).toBe(1);
  expect(b.connections).toBe(1);
  expect(later).not.toHaveBeenCalled();
});

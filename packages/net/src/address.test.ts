import dns from 'node:dns';
import { isPublicAddress, resolvePublic, UnsafeUrlError } from './index';

// The configured resolver is not on loopback, so no test may reach it: names other than localhost
// (answered from /etc/hosts) are answered by this stub or refused.
const realLookup = dns.promises.lookup.bind(dns.promises);
let lookup: jest.SpyInstance;
beforeEach(() => {
  lookup = jest.spyOn(dns.promises, 'lookup').mockImplementation((async (host: string, opts: dns.LookupAllOptions) => {
    if (host === 'localhost') return realLookup(host, opts);
    if (host === 'mixed.test')
      return [
        { address: '8.8.8.8', family: 4 },
        { address: '10.0.0.1', family: 4 },
      ];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  }) as never);
});
afterEach(() => jest.restoreAllMocks());

async function refusal(host: string): Promise<UnsafeUrlError> {
  const err = await resolvePublic(host).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UnsafeUrlError)) throw new Error(`expected ${host} to be refused, got ${String(err)}`);
  return err;
}

describe('isPublicAddress', () => {
  test.each([
    '127.0.0.1',
    '127.255.255.254',
    '::1',
    '0.0.0.0',
    '::',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    'fd00::1',
    'fc00::1',
    '169.254.169.254',
    'fe80::1',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    'ff02::1',
    '255.255.255.255',
    '240.0.0.1',
    '198.18.0.1',
    '198.19.255.255',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '2001:db8::1',
    '192.0.0.8',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a00:1',
    '::ffff:169.254.169.254',
    '[::1]',
    '::7f00:1', // deprecated IPv4-compatible form
    '64:ff9b::7f00:1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b:1::808:808', // NAT64
    '2002:7f00:1::1',
    '2002:a00:1::1', // 6to4
    '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo, client 127.0.0.1 (stored inverted)
    'not-an-ip',
    '',
    '1.2.3.4.5',
  ])('%s is not public', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  test.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::1111',
    '[2606:4700::1111]',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7', // Teredo, client 8.8.8.8
  ])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('resolvePublic', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['169.254.169.254', '169.254.169.254'],
    ['10.0.0.1', '10.0.0.1'],
    ['172.16.5.4', '172.16.5.4'],
    ['192.168.1.1', '192.168.1.1'],
    ['100.64.0.1', '100.64.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['224.0.0.1', '224.0.0.1'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['[::ffff:a00:1]', '::ffff:a00:1'],
    ['[fe80::1]', 'fe80::1'],
    ['[fd00::1]', 'fd00::1'],
    // legacy IPv4 spellings, as a caller might pass them without going through new URL()
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['127.0.0.1.', '127.0.0.1'],
  ])('refuses %s (%s) without DNS', async (host, address) => {
    const err = await refusal(host);
    expect(err.reason).toBe('address');
    expect(err.message).toContain(`(${address})`);
    expect(lookup).not.toHaveBeenCalled();
  });

  test('WHATWG URL turns the legacy forms into a dotted quad before we see them', async () => {
    for (const url of ['http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://127.1/']) {
      const { hostname } = new URL(url);
      expect(hostname).toBe('127.0.0.1');
      expect((await refusal(hostname)).message).toBe('URL host 127.0.0.1 resolves to a non-public address (127.0.0.1)');
    }
  });

  test('refuses localhost through the real resolver', async () => {
    const err = await refusal('localhost');
    expect(err.reason).toBe('address');
    expect(err.message).toMatch(/^URL host localhost resolves to a non-public address \((127\.0\.0\.1|::1)\)$/);
    expect(lookup).toHaveBeenCalledWith('localhost', { all: true });
  });

  test.each(['metadata.google.internal', 'METADATA.google.internal.', 'metadata', 'instance-data'])(
    'refuses the metadata name %s without asking DNS',
    async (host) => {
      const err = await refusal(host);
      expect(err.reason).toBe('address');
      expect(err.message).toMatch(/^URL host [a-z.-]+ is not allowed$/);
      expect(lookup).not.toHaveBeenCalled();
    },
  );

  test('refuses a name if any one of its addresses is not public', async () => {
    const err = await refusal('mixed.test');
    expect(err.reason).toBe('address');
    expect(err.message).toBe('URL host mixed.test resolves to a non-public address (10.0.0.1)');
  });

  test('an unresolvable name is a dns error', async () => {
    expect((await refusal('nowhere.test')).reason).toBe('dns');
  });

  test('public literals are returned as they are, without DNS', async () => {
    await expect(resolvePublic('8.8.8.8')).resolves.toEqual([{ address: '8.8.8.8', family: 4 }]);
    await expect(resolvePublic('[2606:4700::1111]')).resolves.toEqual([{ address: '2606:4700::1111', family: 6 }]);
    expect(lookup).not.toHaveBeenCalled();
  });
});

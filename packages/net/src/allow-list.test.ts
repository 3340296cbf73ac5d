import { allowListMatcher, parseAllowList } from './allow-list';
import { safeFetch } from './safe-fetch';
import { UnsafeUrlError } from './errors';

test('entries are addresses with an optional port; names and junk are refused', () => {
  expect(parseAllowList(' 127.0.0.1:8081, 10.1.2.3 ,[::1]:9000,::1')).toEqual([
    { address: '127.0.0.1', port: 8081 },
    { address: '10.1.2.3', port: null },
    { address: '::1', port: 9000 },
    { address: '::1', port: null },
  ]);
  expect(parseAllowList('')).toEqual([]);
  for (const bad of ['images.internal', '127.0.0.1:99999', '10.0.0.0/8', 'http://10.0.0.1']) {
    expect(() => parseAllowList(bad)).toThrow(bad);
  }
});

test('the matcher admits exactly the listed address and port', () => {
  const allow = allowListMatcher(parseAllowList('127.0.0.1:8081,10.1.2.3'));
  expect(allow('127.0.0.1', 8081)).toBe(true);
  expect(allow('127.0.0.1', 8082)).toBe(false);
  expect(allow('127.0.0.2', 8081)).toBe(false);
  expect(allow('::ffff:127.0.0.1', 8081)).toBe(true); // the same host, IPv4-mapped
  expect(allow('10.1.2.3', 443)).toBe(true);
  expect(allow('not an ip', 80)).toBe(false);
});

test('an allow-list entry for another port does not open a loopback URL', async () => {
  const allowExtra = allowListMatcher(parseAllowList('127.0.0.1:1'));
  // Port 9 is refused by the address check before any connection is attempted.
  await expect(safeFetch('http://127.0.0.1:9/', { maxBytes: 10, timeoutMs: 1000, allowExtra })).rejects.toMatchObject({
    constructor: UnsafeUrlError,
    reason: 'address',
  });
});

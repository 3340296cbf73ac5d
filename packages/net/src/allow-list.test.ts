import { allowListedAddresses } from './allow-list';
import { isPublicAddress } from './address';

test('an empty allow-list is exactly the public-address rule', () => {
  expect(allowListedAddresses([])).toBe(isPublicAddress);
});

test('listed addresses and ranges pass, other private addresses stay refused', () => {
  const allowed = allowListedAddresses(['127.0.0.1', '::1', '10.9.0.0/16']);
  expect(allowed('127.0.0.1')).toBe(true);
  expect(allowed('::1')).toBe(true);
  expect(allowed('10.9.3.4')).toBe(true);
  expect(allowed('::ffff:127.0.0.1')).toBe(true); // IPv4-mapped form of a listed address
  expect(allowed('127.0.0.2')).toBe(false);
  expect(allowed('10.8.0.1')).toBe(false);
  expect(allowed('169.254.169.254')).toBe(false);
  expect(allowed('192.168.1.1')).toBe(false);
  expect(allowed('8.8.8.8')).toBe(true);
});

test('a malformed entry is named', () => {
  expect(() => allowListedAddresses(['localhost'])).toThrow(/REELAY_FETCH_ALLOW_HOSTS: "localhost"/);
});

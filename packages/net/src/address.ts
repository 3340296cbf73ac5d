import { promises as dns } from 'node:dns';
// ipaddr.js: small, dependency-free, widely used (express/proxy-addr); it parses every legacy IPv4
// spelling (octal, hex, short, 32-bit integer) and knows the IANA special-purpose ranges.
import ipaddr from 'ipaddr.js';
import { UnsafeUrlError } from './errors';

export interface ResolvedAddress {
  address: string;
  family: number; // 4 or 6
}

/**
 * Cloud metadata names, refused by name: inside a cloud they resolve to link-local addresses we would
 * refuse anyway, but a custom resolver or search domain could map them elsewhere.
 */
export const BLOCKED_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);

// Only 2000::/3 is allocated as global unicast; anything outside it that ipaddr.js calls 'unicast'
// (e.g. the deprecated IPv4-compatible ::a.b.c.d) is unassigned, so it is refused.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

function v4FromWords(hi: number | undefined, lo: number | undefined): ipaddr.IPv4 {
  const h = hi ?? 0;
  const l = lo ?? 0;
  return new ipaddr.IPv4([h >> 8, h & 0xff, l >> 8, l & 0xff]);
}

function isPublicV4(addr: ipaddr.IPv4): boolean {
  // An allowlist: every special-purpose range (loopback, private, link-local, CGNAT, multicast,
  // broadcast, reserved 240/4, benchmarking, documentation, ...) has a name other than 'unicast'.
  return addr.range() === 'unicast';
}

function isPublicV6(addr: ipaddr.IPv6): boolean {
  const p = addr.parts;
  switch (addr.range()) {
    case 'unicast':
      return addr.match(GLOBAL_UNICAST_V6);
    // Forms that carry an IPv4 address are judged by that address, since traffic may end up there.
    case 'ipv4Mapped':
    case 'rfc6145':
      return isPublicV4(v4FromWords(p[6], p[7]));
    case 'rfc6052': // NAT64; the local-use 64:ff9b:1::/48 prefix is site-specific, so refused
      return addr.match(NAT64_WELL_KNOWN) && isPublicV4(v4FromWords(p[6], p[7]));
    case '6to4':
      return isPublicV4(v4FromWords(p[1], p[2]));
    case 'teredo': // server in words 2-3, client in words 6-7 stored bit-inverted
      return isPublicV4(v4FromWords(p[2], p[3])) && isPublicV4(v4FromWords((p[6] ?? 0) ^ 0xffff, (p[7] ?? 0) ^ 0xffff));
    default:
      return false;
  }
}

/** True only for a globally routable unicast address. Anything unparseable is not public. */
export function isPublicAddress(ip: string): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(stripBrackets(ip));
  } catch {
    return false;
  }
  return addr.kind() === 'ipv4' ? isPublicV4(addr as ipaddr.IPv4) : isPublicV6(addr as ipaddr.IPv6);
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function normaliseHost(hostname: string): string {
  return stripBrackets(hostname.trim().toLowerCase()).replace(/\.$/, '');
}

/**
 * Resolves `hostname` (a URL's hostname) and vets every address with `isAllowed`. Literal IPs in any
 * legacy spelling are parsed here rather than handed to the resolver; names go through one
 * `dns.promises.lookup`, and a single bad answer refuses the host, because the connection could pick
 * any of them.
 */
export async function vetHost(hostname: string, isAllowed: (ip: string) => boolean): Promise<ResolvedAddress[]> {
  const host = normaliseHost(hostname);
  if (BLOCKED_HOSTNAMES.has(host)) throw new UnsafeUrlError('address', `URL host ${host} is not allowed`);

  let addresses: ResolvedAddress[];
  if (ipaddr.isValid(host)) {
    const addr = ipaddr.parse(host);
    addresses = [{ address: addr.toString(), family: addr.kind() === 'ipv4' ? 4 : 6 }];
  } else {
    try {
      addresses = await dns.lookup(host, { all: true });
    } catch (err) {
      throw new UnsafeUrlError('dns', `URL host ${host} could not be resolved`, { cause: err });
    }
    if (addresses.length === 0) throw new UnsafeUrlError('dns', `URL host ${host} could not be resolved`);
  }

  const bad = addresses.find((a) => !isAllowed(a.address));
  if (bad) throw new UnsafeUrlError('address', `URL host ${host} resolves to a non-public address (${bad.address})`);
  return addresses;
}

/** The addresses `hostname` resolves to, all public; throws UnsafeUrlError ('address' | 'dns') otherwise. */
export function resolvePublic(hostname: string): Promise<ResolvedAddress[]> {
  return vetHost(hostname, isPublicAddress);
}

import ipaddr from 'ipaddr.js';
import { isPublicAddress } from './address';

/**
 * The operator's allow-list (REELAY_FETCH_ALLOW_HOSTS): IP addresses or CIDR ranges that the SSRF
 * guard lets through in addition to public addresses, e.g. `127.0.0.1` for a webhook receiver on
 * the same machine. Empty (the default) means public addresses only. Metadata hostnames stay
 * refused whatever the list says.
 */
export function allowListedAddresses(entries: readonly string[]): (ip: string) => boolean {
  if (entries.length === 0) return isPublicAddress;
  const ranges = entries.map((entry) => {
    try {
      return entry.includes('/') ? ipaddr.parseCIDR(entry) : ([ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128] as const);
    } catch {
      throw new Error(`REELAY_FETCH_ALLOW_HOSTS: "${entry}" is not an IP address or CIDR range`);
    }
  });
  return (ip: string) => {
    if (isPublicAddress(ip)) return true;
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      addr = ipaddr.process(ip);
    } catch {
      return false;
    }
    return ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net as never, bits));
  };
}

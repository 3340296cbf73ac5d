import ipaddr from 'ipaddr.js';

export interface AllowListEntry {
  address: string; // normalised
  port: number | null; // null: any port
}

/**
 * Parses an operator's list of internal hosts that user-supplied URLs may reach despite being
 * private: comma-separated `IP`, `IP:port` or `[IPv6]:port` entries. Addresses only, never names,
 * so a DNS answer cannot widen it. Throws on a malformed entry.
 */
export function parseAllowList(raw: string): AllowListEntry[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(entry) ?? [entry, entry, undefined];
      const host = m[1]!;
      const port = m[2] === undefined ? null : Number(m[2]);
      if (!ipaddr.isValid(host) || (port !== null && (port < 1 || port > 65535))) {
        throw new Error(`"${entry}" is not an IP, IP:port or [IPv6]:port`);
      }
      return { address: ipaddr.process(host).toString(), port };
    });
}

/** A safeFetch `allowExtra` callback admitting exactly the listed address (and port, when given). */
export function allowListMatcher(entries: readonly AllowListEntry[]): (ip: string, port: number) => boolean {
  return (ip, port) => {
    let normal: string;
    try {
      normal = ipaddr.process(ip).toString();
    } catch {
      return false;
    }
    return entries.some((e) => e.address === normal && (e.port === null || e.port === port));
  };
}

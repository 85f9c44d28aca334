import { BlockList, isIP } from 'node:net';

/**
 * Addresses and CIDR ranges as operators write them in `WEBHOOK_ALLOWED_IPS` and `TRUST_PROXY`:
 * `196.201.214.0/24, 2001:db8::/32, 10.0.0.7`. Parsed once at start-up; a typo is a configuration
 * problem, never a silently open list.
 */

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** One entry: an address (a /32 or /128) or `address/prefix`. Undefined when it is neither. */
export function parseCidr(entry: string): Cidr | undefined {
  const [address = '', prefixText, extra] = entry.trim().split('/');
  if (extra !== undefined) return undefined;
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** A comma-separated list: the ranges, or the entries that are not addresses or ranges. */
export function parseCidrList(text: string): { ok: true; value: Cidr[] } | { ok: false; bad: string[] } {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const value: Cidr[] = [];
  const bad: string[] = [];
  for (const e of entries) {
    const c = parseCidr(e);
    if (c) value.push(c);
    else bad.push(e);
  }
  if (bad.length > 0 || value.length === 0) return { ok: false, bad: bad.length > 0 ? bad : ['(empty list)'] };
  return { ok: true, value };
}

/**
 * A membership test over the ranges. IPv4 clients reaching a dual-stack socket appear as
 * `::ffff:1.2.3.4`; they are matched as the IPv4 address they are.
 *
 * @example inRanges(parseCidrList('10.0.0.0/8').value)('::ffff:10.1.2.3') // true
 */
export function inRanges(ranges: Cidr[]): (ip: string | undefined) => boolean {
  const list = new BlockList();
  for (const r of ranges) list.addSubnet(r.address, r.prefix, r.family);
  return (ip) => {
    if (!ip) return false;
    const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const v = isIP(plain);
    if (v === 0) return false;
    return list.check(plain, v === 4 ? 'ipv4' : 'ipv6');
  };
}

/** Loopback: `127.0.0.0/8`, `::1` (and `::ffff:127.x`). */
export const isLoopback = inRanges([
  { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
  { address: '::1', prefix: 128, family: 'ipv6' },
]);

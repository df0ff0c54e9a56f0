import { BlockList, isIPv4 } from 'node:net';

/**
 * Whether a peer address is loopback: 127.0.0.0/8, ::1, or either in IPv4-mapped IPv6 form
 * (a dual-stack listener reports 127.0.0.1 as ::ffff:127.0.0.1).
 */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** Whether a configured listen host is loopback: a loopback address or the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopback(host);
}

/** A BlockList of addresses and CIDR networks (`10.0.0.0/8`, `::1`), as the config writes them. */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = addr!.includes(':') ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(bits), family);
  }
  return list;
}

import { isIP, isIPv4 } from 'node:net';

/** A listener's address as configured or bound: an IP literal, `0.0.0.0`/`::`, or a name such as `localhost`. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where outgoing HTTP calls made on someone else's behalf (mail-in webhooks, scripts'
 * `api.http`) may go. Plain data, so it crosses to worker threads with the call.
 */
export interface TargetPolicy {
  /** 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 and the other special-use ranges of the private kind. */
  allowPrivate: boolean;
  /** 127/8 and ::1 (the platform's own listeners stay refused). */
  allowLoopback: boolean;
  /** Every listener this process runs: never a target, whatever the switches say. */
  ownListeners: readonly HostPort[];
  /** How refusals name the two switches (their config keys). */
  keys?: { private: string; loopback: string };
}

export type AddressKind = 'public' | 'private' | 'loopback' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'broadcast' | 'reserved';

const DESCRIPTION: Record<AddressKind, string> = {
  public: 'a public address',
  private: 'a private address',
  loopback: 'a loopback address',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
};

/** Kinds never called, whatever the configuration says. */
const ALWAYS_REFUSED = new Set<AddressKind>(['link-local', 'metadata', 'unspecified', 'multicast', 'broadcast', 'reserved']);

type V4Range = readonly [base: number, bits: number, kind: AddressKind];

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

// Most specific first: the metadata addresses lie inside link-local and shared (CGNAT) space.
const V4_RANGES: readonly V4Range[] = [
  [v4(169, 254, 169, 254), 32, 'metadata'], // AWS, GCP, Azure, OpenStack, Oracle
  [v4(100, 100, 100, 200), 32, 'metadata'], // Alibaba Cloud
  [v4(255, 255, 255, 255), 32, 'broadcast'],
  [v4(0, 0, 0, 0), 8, 'unspecified'], // "this network"
  [v4(127, 0, 0, 0), 8, 'loopback'],
  [v4(169, 254, 0, 0), 16, 'link-local'],
  [v4(10, 0, 0, 0), 8, 'private'],
  [v4(172, 16, 0, 0), 12, 'private'],
  [v4(192, 168, 0, 0), 16, 'private'],
  [v4(100, 64, 0, 0), 10, 'private'], // shared address space (carrier-grade NAT)
  [v4(192, 0, 0, 0), 24, 'private'], // IETF protocol assignments
  [v4(198, 18, 0, 0), 15, 'private'], // benchmarking
  [v4(224, 0, 0, 0), 4, 'multicast'],
  [v4(240, 0, 0, 0), 4, 'reserved'],
];

function parseV4(s: string): number {
  const [a, b, c, d] = s.split('.').map(Number) as [number, number, number, number];
  return v4(a, b, c, d);
}

function kindOfV4(n: number): AddressKind {
  for (const [base, bits, kind] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === base) return kind;
  }
  return 'public';
}

/** An IPv6 literal (already checked by isIP) as eight 16-bit groups. */
function parseV6(s: string): number[] {
  let text = s.toLowerCase().replace(/%.*$/, '');
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes its two groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const n = parseV4(last);
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const groups = (p: string) => (p === '' ? [] : p.split(':').map((x) => parseInt(x, 16)));
  const gap = text.indexOf('::');
  if (gap < 0) return groups(text);
  const head = groups(text.slice(0, gap));
  const tail = groups(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The IPv4 address an IPv6 form carries (mapped, compatible, NAT64 well-known prefix), or null. */
function embeddedV4(g: number[]): number | null {
  const zero5 = g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0;
  const low = ((g[6]! << 16) | g[7]!) >>> 0;
  if (zero5 && g[5] === 0xffff) return low; // ::ffff:a.b.c.d
  if (zero5 && g[5] === 0 && low > 1) return low; // ::a.b.c.d (deprecated "compatible"); :: and ::1 are themselves
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) return low; // 64:ff9b::/96
  return null;
}

function kindOfV6(g: number[]): AddressKind {
  const v4n = embeddedV4(g);
  if (v4n !== null) return kindOfV4(v4n);
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return 'metadata'; // AWS over IPv6
  const first = g[0]!;
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  if ((first & 0xffc0) === 0xfec0) return 'private'; // site-local (deprecated)
  if ((first & 0xfe00) === 0xfc00) return 'private'; // unique local
  if ((first & 0xff00) === 0xff00) return 'multicast';
  if (first === 0x0100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return 'reserved'; // 100::/64 discard
  return 'public';
}

/** What kind of address an IP literal is (IPv4-mapped and other embedded forms by their IPv4 address). */
export function addressKind(ip: string): AddressKind {
  const bare = ip.replace(/^\[|\]$/g, '');
  if (isIPv4(bare)) return kindOfV4(parseV4(bare));
  if (isIP(bare.replace(/%.*$/, '')) === 6) return kindOfV6(parseV6(bare));
  throw new Error(`not an IP address: ${ip.slice(0, 100)}`);
}

/** One spelling per address (IPv4-mapped forms as IPv4), for comparing addresses. */
function canonical(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIPv4(bare)) return bare;
  const g = parseV6(bare);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  if (mapped) return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  return g.map((x) => x.toString(16)).join(':');
}

function isUnspecifiedHost(host: string): boolean {
  return host === '' || (isIP(host.replace(/^\[|\]$/g, '')) !== 0 && addressKind(host) === 'unspecified');
}

/**
 * Whether `ip:port` reaches one of the listeners: a listener takes connections to its own
 * address, one on `localhost` to loopback, one on the unspecified address to loopback and to
 * every address of this host (`localAddresses`). Loopback at a listener's port counts for any
 * listener: a refusal too many is harmless, one too few is the admin API.
 */
export function isOwnListener(ip: string, port: number, listeners: readonly HostPort[], localAddresses: readonly string[] = []): boolean {
  const target = canonical(ip);
  const loopback = addressKind(target) === 'loopback';
  for (const l of listeners) {
    if (l.port !== port) continue;
    if (loopback) return true;
    const host = l.host.toLowerCase();
    if (isUnspecifiedHost(host)) {
      if (localAddresses.some((a) => canonical(a) === target)) return true;
    } else if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 && canonical(host) === target) {
      return true;
    }
  }
  return false;
}

/**
 * Why the address `ip` (at `port`) may not be called, or null when it may. `localAddresses`
 * are this host's interface addresses (for listeners on the unspecified address).
 */
export function addressRefusal(ip: string, port: number, policy: TargetPolicy, localAddresses: readonly string[] = []): string | null {
  const kind = addressKind(ip);
  const bare = ip.replace(/^\[|\]$/g, '');
  const v4form = canonical(bare);
  // An IPv4-mapped form is named with the IPv4 address it stands for.
  const shown = isIPv4(v4form) && v4form !== bare ? `${bare} (${v4form})` : bare;
  if (ALWAYS_REFUSED.has(kind)) return `${shown} is ${DESCRIPTION[kind]}, which is never called`;
  if (isOwnListener(ip, port, policy.ownListeners, localAddresses)) return `${shown} port ${port} is one of this platform's own listeners, which are never called`;
  if (kind === 'loopback' && !policy.allowLoopback) return `${shown} is ${DESCRIPTION[kind]}, called only with ${policy.keys?.loopback ?? 'loopback targets allowed'}: true`;
  if (kind === 'private' && !policy.allowPrivate) return `${shown} is ${DESCRIPTION[kind]}, called only with ${policy.keys?.private ?? 'private targets allowed'}: true`;
  return null;
}

/** Names of cloud metadata services (GCP's `metadata.google.internal`, AWS's `instance-data…`). */
export function isMetadataName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n === 'metadata' || n === 'instance-data') return true;
  if (!n.endsWith('.internal')) return false;
  const first = n.split('.')[0];
  return first === 'metadata' || first === 'instance-data';
}

/** `localhost` and names under it (RFC 6761): loopback without asking DNS. */
export function isLocalhostName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  return n === 'localhost' || n.endsWith('.localhost');
}

/**
 * Why a URL's host may not be called, as far as the name itself tells (an IP literal fully, a
 * metadata name, `localhost`); null for other names, whose addresses are checked once DNS has
 * answered (http-client.ts). `host` is the WHATWG URL hostname, so numeric forms such as
 * `2130706433` or `0x7f.1` arrive as the dotted address already.
 */
export function hostRefusal(host: string, port: number, policy: TargetPolicy, localAddresses: readonly string[] = []): string | null {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 0) return addressRefusal(bare, port, policy, localAddresses);
  if (isMetadataName(bare)) return `${bare} is a cloud metadata name, which is never called`;
  if (isLocalhostName(bare)) {
    const why = addressRefusal('127.0.0.1', port, policy, localAddresses) ?? addressRefusal('::1', port, policy, localAddresses);
    return why ? `${bare} is loopback: ${why}` : null;
  }
  return null;
}

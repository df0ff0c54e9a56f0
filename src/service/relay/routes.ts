import { promises as dns } from 'node:dns';
import type { TlsMode } from '../../core/index.js';

/** Where one attempt may go: a host, its port and how TLS is done there. */
export interface RelayTarget {
  host: string;
  port: number;
  tls: TlsMode;
  /** Trust anchors (PEM) for this peer; undefined: the system's roots. */
  ca?: string[] | undefined;
}

export type RouteAnswer =
  | { ok: true; targets: RelayTarget[] }
  /** No host to try: permanent (the domain takes no mail) or temporary (DNS trouble). */
  | { ok: false; permanent: boolean; status: string; text: string };

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** An MX lookup (node:dns's resolveMx by default; a test gives its own answers). Errors carry DNS codes. */
export type MxResolver = (domain: string) => Promise<MxRecord[]>;

export interface RelayRoutesOptions {
  /** Static routes by domain; `*` is the smarthost for every other domain. */
  routes: Record<string, RelayTarget>;
  /** Port and TLS of hosts found by MX lookup. */
  mxPort: number;
  mxTls: Exclude<TlsMode, 'none'>;
  maxMxHosts: number;
  /** Trust anchors for MX hosts; undefined: the system's roots. */
  ca?: string[] | undefined;
  resolveMx?: MxResolver;
  /** For the order among equal preferences. */
  random?: () => number;
}

/**
 * Where mail for a domain goes: a static route, else the smarthost `*`, else the domain's MX
 * hosts (RFC 5321 5.1: lowest preference first, equal preferences in random order; no MX
 * record: the domain's own address; RFC 7505 null MX `.`: the domain takes no mail).
 */
export class RelayRoutes {
  private readonly resolveMx: MxResolver;
  private readonly random: () => number;

  constructor(private readonly opts: RelayRoutesOptions) {
    this.resolveMx = opts.resolveMx ?? ((d) => dns.resolveMx(d));
    this.random = opts.random ?? Math.random;
  }

  async resolve(domain: string): Promise<RouteAnswer> {
    const route = this.opts.routes[domain] ?? this.opts.routes['*'];
    if (route) return { ok: true, targets: [route] };
    let records: MxRecord[];
    try {
      records = await this.resolveMx(domain);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // The domain exists but has no MX: its own address is the implicit MX.
      if (code === 'ENODATA') records = [];
      else if (code === 'ENOTFOUND') return { ok: false, permanent: true, status: '5.1.2', text: `domain ${domain} does not exist (DNS: NXDOMAIN)` };
      else return { ok: false, permanent: false, status: '4.4.3', text: `MX lookup for ${domain} failed: ${code ?? (err as Error).message}` };
    }
    if (records.length > 0 && records.every((r) => isNullExchange(r.exchange))) {
      return { ok: false, permanent: true, status: '5.1.10', text: `${domain} accepts no mail (null MX, RFC 7505)` };
    }
    const hosts = orderMx(records, this.random);
    const chosen = hosts.length > 0 ? hosts.slice(0, this.opts.maxMxHosts) : [domain];
    return { ok: true, targets: chosen.map((host) => ({ host, port: this.opts.mxPort, tls: this.opts.mxTls, ca: this.opts.ca })) };
  }
}

function isNullExchange(exchange: string): boolean {
  return exchange === '' || exchange === '.';
}

/** MX host names in the order to try them: by preference, shuffled among equals. */
export function orderMx(records: readonly MxRecord[], random: () => number = Math.random): string[] {
  const byPreference = new Map<number, string[]>();
  for (const r of records) {
    if (isNullExchange(r.exchange)) continue;
    const host = r.exchange.toLowerCase().replace(/\.$/, '');
    const same = byPreference.get(r.priority) ?? [];
    if (!same.includes(host)) same.push(host);
    byPreference.set(r.priority, same);
  }
  const out: string[] = [];
  for (const pref of [...byPreference.keys()].sort((a, b) => a - b)) {
    const same = byPreference.get(pref)!;
    // Fisher-Yates: every order of equally preferred hosts is equally likely (load spreading).
    for (let i = same.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [same[i], same[j]] = [same[j]!, same[i]!];
    }
    out.push(...same);
  }
  return out;
}

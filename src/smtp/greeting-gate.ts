import type { BlockList } from 'node:net';
import { ExpiringMap, isLoopback } from '../core/index.js';

export interface GreetingGateOptions {
  /** How long a new client waits for the greeting; 0: no one waits. */
  delayMs: number;
  /** A client that waited without talking is not delayed again for this long. */
  rememberMs: number;
  /** Clients remembered at most (the oldest are forgotten first). */
  maxRemembered: number;
  /** Networks never delayed (the client module, a relay host of one's own). */
  exempt: BlockList;
}

/**
 * Postscreen's pregreet test for one SMTP listener: which clients wait for the greeting. A
 * client seen recently (it waited without talking), a loopback client and an exempt one get it
 * at once; any other waits `delayMs`, and one that talks before it is refused (greeting-hold.ts).
 */
export class GreetingGate {
  private readonly passed: ExpiringMap<true>;

  constructor(
    private readonly opts: GreetingGateOptions,
    now?: () => number,
  ) {
    this.passed = new ExpiringMap(opts.maxRemembered, opts.rememberMs, now);
  }

  /** How long the client at `address` waits for the greeting, in ms (0: not at all). */
  delayFor(address: string | undefined): number {
    if (this.opts.delayMs <= 0 || address === undefined || isLoopback(address)) return 0;
    const a = plain(address);
    if (this.opts.exempt.check(a, a.includes(':') ? 'ipv6' : 'ipv4')) return 0;
    return this.passed.get(a) ? 0 : this.opts.delayMs;
  }

  /** The client waited for the greeting without talking: the next connections are not delayed. */
  pass(address: string | undefined): void {
    if (address !== undefined) this.passed.set(plain(address), true);
  }

  /** A client that talked before the greeting is forgotten, should it have passed before. */
  fail(address: string | undefined): void {
    if (address !== undefined) this.passed.delete(plain(address));
  }
}

/** IPv4-mapped IPv6 as IPv4: one client, one entry, whichever way the listener reports it. */
function plain(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Failed logins per client address, across connections and protocols: after `freeFailures`
 * failures within `windowMs`, each further failure from that address is answered only after a
 * delay that doubles up to `maxDelayMs`. Per-connection limits alone let a guesser simply
 * reconnect. Deliberately not per account: that would let anyone lock a practice out.
 * Memory is bounded: at most `maxEntries` addresses are tracked, the stalest dropped first.
 */
export interface LoginThrottleOptions {
  windowMs: number;
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxEntries?: number;
}

interface Entry {
  failures: number;
  last: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly opts: LoginThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a failure and returns the delay to apply before answering it. */
  failure(address: string): number {
    const t = this.now();
    let e = this.entries.get(address);
    if (!e || t - e.last > this.opts.windowMs) e = { failures: 0, last: t };
    e.failures++;
    e.last = t;
    // Re-insert so Map order is least-recently-failed first.
    this.entries.delete(address);
    this.entries.set(address, e);
    if (this.entries.size > (this.opts.maxEntries ?? 100_000)) this.entries.delete(this.entries.keys().next().value!);
    return this.delayFor(e.failures);
  }

  /** The penalty an address has earned so far (0 when it has not failed often). */
  penalty(address: string): number {
    const e = this.entries.get(address);
    if (!e || this.now() - e.last > this.opts.windowMs) return 0;
    return this.delayFor(e.failures);
  }

  private delayFor(failures: number): number {
    const over = failures - this.opts.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }
}

/**
 * Failed logins per client address, across connections and protocols, and the gate every
 * login passes before its password is checked.
 *
 * Penalty: after `freeFailures` failures within `windowMs`, each further failure earns a delay
 * that doubles up to `maxDelayMs`. Until that delay has passed the address is *penalised*: a
 * login from it is answered without computing the hash at all. Delaying only the answer (as
 * before) still let every attempt cost a full password hash, which made wrong passwords a
 * denial of service; and parallel connections went as many times faster as there were.
 *
 * Gate: at most `maxChecksPerAddress` checks from one address run at a time (the others wait,
 * at most `maxWaitingPerAddress` of them), and at most `maxChecks` in all (at most
 * `maxWaitingChecks` waiting). Waiting attempts whose connection goes are dropped. So one
 * address guesses no faster in parallel than in sequence, and a flood from a few addresses
 * takes a bounded share of the password threads while others still log in.
 *
 * Deliberately per address, not per account: that would let anyone lock a practice out.
 * Memory is bounded: at most `maxEntries` addresses are tracked, the stalest dropped first.
 */
export interface LoginThrottleOptions {
  windowMs: number;
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxEntries?: number;
  maxChecks?: number;
  maxWaitingChecks?: number;
  maxChecksPerAddress?: number;
  maxWaitingPerAddress?: number;
}

/** What the gate decided: check now (and release afterwards), or answer without a check. */
export type LoginAdmission =
  | { kind: 'check'; release(): void }
  /** The address is penalised: answer a temporary failure after `waitMs`, checking nothing. */
  | { kind: 'penalised'; waitMs: number }
  /** Too many attempts waiting (from this address or in all): answer a temporary failure. */
  | { kind: 'busy' }
  /** The connection went while it waited. */
  | { kind: 'abandoned' };

interface Entry {
  failures: number;
  last: number;
  /** Until when the address is penalised. */
  until: number;
}

interface Waiter {
  resolve(): void;
  aborted: boolean;
}

/** A counting semaphore with a bounded FIFO of waiters that can leave. */
class Slots {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly max: number,
    private readonly maxWaiting: number,
  ) {}

  get idle(): boolean {
    return this.running === 0 && this.waiting.length === 0;
  }

  /** Resolves true when a slot is held, false when the queue is full or the signal fired. */
  async acquire(signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return false;
    if (this.running < this.max) {
      this.running++;
      return true;
    }
    if (this.waiting.length >= this.maxWaiting) return false;
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { aborted: false, resolve: () => resolve(true) };
      const onAbort = (): void => {
        w.aborted = true;
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      w.resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(w);
    });
  }

  /** Whether `acquire` would fail at once for a full queue (not counting the signal). */
  get full(): boolean {
    return this.running >= this.max && this.waiting.length >= this.maxWaiting;
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter: `running` stays the same.
    if (next) next.resolve();
    else this.running--;
  }
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly perAddress = new Map<string, Slots>();
  private readonly all: Slots;

  constructor(
    private readonly opts: LoginThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.all = new Slots(opts.maxChecks ?? 8, opts.maxWaitingChecks ?? 200);
  }

  /**
   * Asks to check a password from `address`. A penalised address gets `penalised` at once;
   * otherwise this waits for a slot of the address and one of all (the signal, fired when the
   * connection goes, gives up the wait) and returns `check`, whose `release` must be called once
   * the check is done. The penalty is looked at again once the address's slot is held: the
   * attempt ahead of it may just have failed.
   */
  async admit(address: string, signal?: AbortSignal): Promise<LoginAdmission> {
    const early = this.penalisedFor(address);
    if (early > 0) return { kind: 'penalised', waitMs: early };
    let mine = this.perAddress.get(address);
    if (!mine) {
      mine = new Slots(this.opts.maxChecksPerAddress ?? 1, this.opts.maxWaitingPerAddress ?? 4);
      this.perAddress.set(address, mine);
    }
    if (mine.full || this.all.full) return { kind: 'busy' };
    if (!(await mine.acquire(signal))) return this.giveUp(address, mine, signal);
    const penalty = this.penalisedFor(address);
    if (penalty > 0) {
      this.releaseAddress(address, mine);
      return { kind: 'penalised', waitMs: penalty };
    }
    if (!(await this.all.acquire(signal))) {
      this.releaseAddress(address, mine);
      return signal?.aborted ? { kind: 'abandoned' } : { kind: 'busy' };
    }
    let released = false;
    return {
      kind: 'check',
      release: () => {
        if (released) return;
        released = true;
        this.all.release();
        this.releaseAddress(address, mine);
      },
    };
  }

  private giveUp(address: string, mine: Slots, signal: AbortSignal | undefined): LoginAdmission {
    if (mine.idle) this.perAddress.delete(address);
    return signal?.aborted ? { kind: 'abandoned' } : { kind: 'busy' };
  }

  private releaseAddress(address: string, mine: Slots): void {
    mine.release();
    if (mine.idle) this.perAddress.delete(address);
  }

  /** Records a failure and returns the delay to apply before answering it. */
  failure(address: string): number {
    const t = this.now();
    let e = this.entries.get(address);
    if (!e || t - e.last > this.opts.windowMs) e = { failures: 0, last: t, until: 0 };
    e.failures++;
    e.last = t;
    const delay = this.delayFor(e.failures);
    e.until = t + delay;
    // Re-insert so Map order is least-recently-failed first.
    this.entries.delete(address);
    this.entries.set(address, e);
    if (this.entries.size > (this.opts.maxEntries ?? 100_000)) this.entries.delete(this.entries.keys().next().value!);
    return delay;
  }

  /** The delay an address's failures have earned so far (0 when it has not failed often). */
  penalty(address: string): number {
    const e = this.entries.get(address);
    if (!e || this.now() - e.last > this.opts.windowMs) return 0;
    return this.delayFor(e.failures);
  }

  /** How long the address is still penalised: no check of its logins until then. */
  penalisedFor(address: string): number {
    const e = this.entries.get(address);
    if (!e) return 0;
    return Math.max(0, e.until - this.now());
  }

  /** Whether logins from the address are held off now (no change to anything). */
  isPenalised(address: string): boolean {
    return this.penalisedFor(address) > 0;
  }

  private delayFor(failures: number): number {
    const over = failures - this.opts.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Metrics } from '../core/index.js';

export interface LoginCacheOptions {
  /** How long a successful check is remembered, from the check; 0 turns the cache off. */
  ttlMs: number;
  /** Accounts remembered at once; past this the least recently used is forgotten. */
  maxEntries: number;
}

interface Entry {
  mac: Buffer;
  expires: number;
}

const METRIC = 'postamt_login_cache_total';

/**
 * Remembers successful password checks for a while, as Dovecot's auth_cache does, so a
 * client that logs in every few seconds (POP3 polling, SMTP AUTH per message) does not pay
 * a deliberately slow scrypt each time.
 *
 * What is kept per account is an HMAC-SHA256, under a key drawn at random for this process,
 * of (address, password, stored hash string): never the password, and useless outside this
 * process. The stored hash string being part of it makes a password change invalidate the
 * entry by itself: the next login computes a different MAC. Only successes are remembered;
 * a wrong password is never a hit (the MACs differ) and goes through the full check, the
 * failure delay and the throttle as before.
 */
export class LoginCache {
  private readonly key = randomBytes(32);
  /** By account address; Map order is recency order (oldest first). */
  private readonly entries = new Map<string, Entry>();
  /** Hits and misses since start, for tests and the bench (also counted in metrics). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(
    private readonly opts: LoginCacheOptions,
    private readonly metrics?: Metrics,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.opts.ttlMs > 0 && this.opts.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Whether `password` is right for the account with `storedHash`: from the cache when a
   * success with the same three was remembered and has not expired, else by `verify` (whose
   * success is then remembered).
   */
  async verify(address: string, password: string, storedHash: string, verify: (password: string, stored: string) => Promise<boolean>): Promise<boolean> {
    if (!this.enabled) return verify(password, storedHash);
    const mac = this.mac(address, password, storedHash);
    if (this.hit(address, mac)) return true;
    this.count('miss');
    const ok = await verify(password, storedHash);
    if (ok) this.remember(address, mac);
    return ok;
  }

  /**
   * Whether `password` is right from the cache alone: true (and counted as a hit) only when a
   * success with the same three was remembered and has not expired. False says nothing (off,
   * miss, wrong password) and counts nothing: the full check that follows counts the miss.
   * The login edges ask this before the per-address gate, so a hit, which costs an HMAC and
   * no scrypt, need not queue behind other logins from the same address.
   */
  peek(address: string, password: string, storedHash: string): boolean {
    if (!this.enabled) return false;
    return this.hit(address, this.mac(address, password, storedHash));
  }

  private hit(address: string, mac: Buffer): boolean {
    const e = this.entries.get(address);
    if (!e || e.expires <= this.now() || !timingSafeEqual(e.mac, mac)) return false;
    // Most recently used last; the expiry stays that of the real check.
    this.entries.delete(address);
    this.entries.set(address, e);
    this.count('hit');
    return true;
  }

  /** Forgets an account (disabled, removed, password set): belt and braces to the MAC's own invalidation. */
  forget(address: string): void {
    this.entries.delete(address);
  }

  clear(): void {
    this.entries.clear();
  }

  private remember(address: string, mac: Buffer): void {
    this.entries.delete(address);
    this.entries.set(address, { mac, expires: this.now() + this.opts.ttlMs });
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private mac(address: string, password: string, storedHash: string): Buffer {
    const h = createHmac('sha256', this.key);
    // Length-prefixed, so no two different triples feed the same bytes.
    for (const part of [address, password, storedHash]) {
      const b = Buffer.from(part, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      h.update(len).update(b);
    }
    return h.digest();
  }

  private count(result: 'hit' | 'miss'): void {
    this.stats[result === 'hit' ? 'hits' : 'misses']++;
    this.metrics?.inc(METRIC, { result });
  }
}

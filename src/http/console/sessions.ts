import { createHash, randomBytes } from 'node:crypto';

export interface ConsoleSessionOptions {
  idleMs: number;
  maxMs: number;
  maxSessions: number;
  now?: () => number;
}

/** A signed-in console: its CSRF token and when it ends. */
export interface ConsoleSession {
  csrfToken: string;
  createdAt: number;
  lastUsed: number;
}

/** The store key of a session id: its digest, so the map never holds what the cookie carries. */
function key(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

/**
 * Console sessions, in memory (a restart signs everyone out): a random 32-byte id in the
 * cookie, a 32-byte CSRF token in the page. A session ends when unused for `idleMs`, `maxMs`
 * after sign-in, or at sign-out; at most `maxSessions` are kept, the one unused longest goes
 * first. The map is ordered by last use, so expiry and eviction look at its head only.
 */
export class ConsoleSessions {
  private readonly byKey = new Map<string, ConsoleSession>();
  private readonly now: () => number;

  constructor(private readonly opts: ConsoleSessionOptions) {
    this.now = opts.now ?? Date.now;
  }

  create(): { id: string; session: ConsoleSession } {
    this.sweep();
    while (this.byKey.size >= this.opts.maxSessions) this.byKey.delete(this.byKey.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session = { csrfToken: randomBytes(32).toString('base64url'), createdAt: t, lastUsed: t };
    this.byKey.set(key(id), session);
    return { id, session };
  }

  /** The live session of `id` (its last use moved to now), or undefined. */
  use(id: string | undefined): ConsoleSession | undefined {
    if (!id || id.length > 128) return undefined;
    const k = key(id);
    const s = this.byKey.get(k);
    if (!s) return undefined;
    const t = this.now();
    if (this.expired(s, t)) {
      this.byKey.delete(k);
      return undefined;
    }
    s.lastUsed = t;
    this.byKey.delete(k);
    this.byKey.set(k, s);
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.byKey.delete(key(id));
  }

  get size(): number {
    this.sweep();
    return this.byKey.size;
  }

  /** When `s` ends if it is not used again. */
  expiresAt(s: ConsoleSession): number {
    return Math.min(s.lastUsed + this.opts.idleMs, s.createdAt + this.opts.maxMs);
  }

  private expired(s: ConsoleSession, t: number): boolean {
    return t >= this.expiresAt(s);
  }

  /** Drops idle sessions from the head (least recently used first); absolute expiry is checked on use. */
  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.byKey) {
      if (t - s.lastUsed < this.opts.idleMs) break;
      this.byKey.delete(k);
    }
  }
}

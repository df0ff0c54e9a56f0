import { randomBytes } from 'node:crypto';
import type { Practice } from '../../praxis/index.js';

/**
 * The Praxis-Postfach's server-side sessions: a random id (the cookie), a CSRF token, the practice
 * and its password — kept only here, in memory, for the client module's logins; never logged,
 * never sent to the browser. A session ends after `idleMs` unused or `maxMs` after sign-in.
 */
export interface PraxisSession {
  readonly id: string;
  readonly csrf: string;
  readonly practice: Practice;
  readonly password: string;
  readonly created: number;
  lastSeen: number;
}

export interface SessionOptions {
  idleMs: number;
  maxMs: number;
  maxSessions: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, PraxisSession>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly opts: SessionOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.min(60_000, opts.idleMs)).unref();
  }

  create(practice: Practice, password: string): PraxisSession {
    while (this.sessions.size >= this.opts.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const t = this.now();
    const s: PraxisSession = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), practice, password, created: t, lastSeen: t };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session of an id (its use counted), or undefined; an expired one is removed. */
  get(id: string | undefined): PraxisSession | undefined {
    if (!id || id.length !== 43) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (this.expired(s, t)) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = t;
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  close(): void {
    clearInterval(this.timer);
    this.sessions.clear();
  }

  private expired(s: PraxisSession, t: number): boolean {
    return t - s.lastSeen > this.opts.idleMs || t - s.created > this.opts.maxMs;
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, s] of this.sessions) if (this.expired(s, t)) this.sessions.delete(id);
  }
}

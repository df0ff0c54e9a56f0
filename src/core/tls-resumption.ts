import { EventEmitter } from 'node:events';
import { constants, createHash, randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { ExpiringMap } from './expiring-map.js';

/**
 * TLS session resumption for the listeners (core/listener-tls.ts): a client that comes back
 * within the session lifetime skips the key exchange and the certificate signature, the most
 * expensive part of a short implicit-TLS session. Two ways, as OpenSSL offers them:
 * - session tickets (RFC 5077, TLS 1.3 PSK tickets): the session travels encrypted with a key
 *   of the listener's; the key is replaced every `ticketKeyRotationMs` (a new context is made
 *   on the first handshake after that), and tickets under the old key then get a full handshake;
 * - a bounded server-side cache of sessions by id, for TLS 1.2 clients without tickets.
 * Each listener has its own key, cache and session id context, so a session from one listener
 * (say without client certificates) never resumes on another.
 */
export interface TlsResumption {
  tickets: boolean;
  ticketKeyRotationMs: number;
  /** How long a session may be resumed (the ticket lifetime hint, and the cache's TTL). */
  sessionLifetimeMs: number;
  /** Sessions the cache keeps per listener, oldest dropped first; 0: no cache. */
  sessionCacheEntries: number;
}

export const DEFAULT_TLS_RESUMPTION: TlsResumption = { tickets: true, ticketKeyRotationMs: 12 * 3_600_000, sessionLifetimeMs: 3_600_000, sessionCacheEntries: 10_000 };

let active: TlsResumption = DEFAULT_TLS_RESUMPTION;

/** Sets the process's resumption settings (config.tls); listeners made before keep theirs. */
export function useTlsResumption(r: TlsResumption): void {
  active = { ...r };
}

/**
 * The server contexts of one listener, with resumption. `context` is the one to use for the
 * next handshake; `sessions` goes to a server TLSSocket as its `server` option, which is how
 * Node hands a TLSSocket's sessions to a cache (the newSession and resumeSession events of
 * tls.Server, on an object that only carries them).
 */
export class ResumableContexts {
  readonly sessions: EventEmitter | undefined;
  private current: SecureContext;
  private rotateAt: number;

  constructor(
    private readonly options: SecureContextOptions,
    /** Names the listener: its session id context. */
    name: string,
    private readonly r: TlsResumption = active,
    private readonly now: () => number = Date.now,
  ) {
    // OpenSSL resumes a session only in the context (sid_ctx) it was made in; with a client
    // certificate required it refuses to resume without one.
    this.options = { ...options, sessionIdContext: createHash('sha256').update(`postamt ${name}`).digest('hex').slice(0, 32), sessionTimeout: Math.max(1, Math.round(r.sessionLifetimeMs / 1000)) };
    this.rotateAt = this.now() + r.ticketKeyRotationMs;
    this.current = this.make();
    this.sessions = r.sessionCacheEntries > 0 ? sessionCache(r.sessionCacheEntries, r.sessionLifetimeMs) : undefined;
  }

  get context(): SecureContext {
    if (this.r.tickets && this.now() >= this.rotateAt) {
      this.rotateAt = this.now() + this.r.ticketKeyRotationMs;
      this.current = this.make();
    }
    return this.current;
  }

  private make(): SecureContext {
    // Without tickets OpenSSL would still issue them, under a key of its own that never rotates.
    const tickets = this.r.tickets ? { ticketKeys: randomBytes(48) } : { secureOptions: (this.options.secureOptions ?? 0) | constants.SSL_OP_NO_TICKET };
    return createSecureContext({ ...this.options, ...tickets });
  }
}

function sessionCache(entries: number, lifetimeMs: number): EventEmitter {
  const cache = new ExpiringMap<Buffer>(entries, lifetimeMs);
  const emitter = new EventEmitter();
  emitter.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    cache.set(id.toString('hex'), data);
    done();
  });
  emitter.on('resumeSession', (id: Buffer, done: (err: Error | null, data: Buffer | null) => void) => {
    done(null, cache.get(id.toString('hex')) ?? null);
  });
  return emitter;
}

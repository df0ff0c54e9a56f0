import type { SmtpClient } from '../../smtp/index.js';
import type { RelayTarget } from './routes.js';

export interface SessionCacheOptions {
  /** How long an idle session is kept for the next transaction (0: none is kept). */
  idleMs: number;
  /** Transactions one session carries before it is closed. */
  maxTransactions: number;
  /** Idle sessions kept per peer (host, port, TLS, trust). */
  maxIdlePerPeer: number;
}

interface Idle {
  client: SmtpClient;
  transactions: number;
  timer: NodeJS.Timeout;
}

/** A session taken from the cache, with the transactions it has carried so far. */
export interface CachedSession {
  client: SmtpClient;
  transactions: number;
}

/**
 * Open sessions to peers, kept for the next transaction to the same peer (as Postfix's
 * connection cache does). A new session costs TCP and TLS handshakes and the peer's greeting,
 * which smtp-server delays by 100 ms to catch early talkers: with one session per message that
 * delay, not the CPU, bounded the relay's rate (docs/benchmarks.md, bench:relay). A session is only
 * reused for the same host, port, TLS mode and trust anchors it was verified with.
 */
export class SessionCache {
  private readonly idle = new Map<string, Idle[]>();
  /** Trust-anchor lists by identity: routes keep theirs for the process's life. */
  private readonly caIds = new WeakMap<readonly string[], number>();
  private nextCaId = 1;
  private closed = false;

  constructor(private readonly opts: SessionCacheOptions) {}

  keyOf(t: RelayTarget): string {
    let ca = 0;
    if (t.ca) {
      ca = this.caIds.get(t.ca) ?? this.nextCaId++;
      this.caIds.set(t.ca, ca);
    }
    return `${t.tls} ${t.host} ${t.port} ${ca}`;
  }

  /** An idle session to the peer that is still open, if there is one. */
  take(key: string): CachedSession | null {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const s = list.pop()!;
      clearTimeout(s.timer);
      if (s.client.usable) return { client: s.client, transactions: s.transactions };
    }
    return null;
  }

  /** Keeps a session after a completed transaction, or closes it when it has done enough or no room is left. */
  give(key: string, client: SmtpClient, transactions: number): void {
    const list = this.idle.get(key) ?? [];
    if (this.closed || this.opts.idleMs <= 0 || transactions >= this.opts.maxTransactions || list.length >= this.opts.maxIdlePerPeer || !client.usable) {
      void client.quit();
      return;
    }
    const entry: Idle = {
      client,
      transactions,
      timer: setTimeout(() => {
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
        void client.quit();
      }, this.opts.idleMs),
    };
    // An idle session must not keep the process alive.
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  /** QUITs every idle session; later sessions given back are closed at once. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    for (const s of all) clearTimeout(s.timer);
    await Promise.all(all.map((s) => s.client.quit()));
  }
}

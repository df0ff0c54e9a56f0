import { createServer, type AddressInfo, type BlockList, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { TlsMode } from './tls-mode.js';
import { serverHandshake, type ServerTls } from './listener-tls.js';

// After close() destroyed the sockets, how long it still waits for sessions stuck in a backend call.
const STUCK_SESSION_WAIT_MS = 2_000;
// How long a connection refused for the connection limit may take to hear why (TLS handshake included).
const REFUSE_TIMEOUT_MS = 5_000;
// At most one `connection limit reached` line per listener in this long.
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** One protocol session on an accepted connection, as the listener sees it. */
export interface ListenerSession {
  /** Settles when the session is over and its connection closed. */
  readonly done: Promise<void>;
  /**
   * Shutdown: tell the client in the protocol's words (POP3 -ERR, LDAP Notice of Disconnection,
   * SMTP 421) and end, at once when the session waits for the client, else after what it is doing.
   */
  stop(): void;
}

/**
 * Makes the session of an accepted connection. On an implicit-TLS listener `socket` is the
 * TLSSocket with its handshake done; otherwise the TCP socket, not yet read from.
 */
export type SessionFactory = (socket: Socket, id: number) => ListenerSession;

/** Several processes serve one listener (directory.processes): this one accepts, any may serve. */
export interface ConnectionHandOver {
  /** This listener's open connections in all processes: maxConnections is for the whole. */
  active(): number;
  /** Passes a freshly accepted connection, not yet read from, to another process; false when none took it. */
  handOff(socket: Socket): boolean;
}

export interface ListenerOptions {
  /** `smtp`, `pop3`, `ldap`: the metrics are postamt_<protocol>_…, log lines start with it. */
  protocol: string;
  /** The listener's label in logs and metrics (`listener`), e.g. `smtp-mx`, `pop3s`. */
  name: string;
  /** Listen address; defaults to 127.0.0.1 and an ephemeral port (0). */
  host?: string;
  port?: number;
  tlsMode: TlsMode;
  /** The TLS server side; required for `implicit`, whose handshake the listener does. */
  tls?: ServerTls;
  /** Open connections at most (TLS handshakes in progress included); the next one is refused. */
  maxConnections: number;
  /** Bounds the implicit-TLS handshake: the protocol's idle timeout. */
  handshakeTimeoutMs: number;
  /** What a connection over the limit hears before it is closed (inside TLS on `implicit`). */
  refusal: string | Buffer;
  /**
   * Open connections from one client address at most, so that a few hosts cannot hold every
   * slot (Postfix's smtpd_client_connection_count_limit); addresses in `exceptions` are not
   * counted. Counted in the process that serves the connection.
   */
  perAddress?: { max: number; exceptions: BlockList; refusal: string | Buffer };
  /** Whether a client may shut its sending side and still read our answers. */
  allowHalfOpen: boolean;
  handOver?: ConnectionHandOver;
  logger: Logger;
  metrics?: Metrics | undefined;
}

/**
 * The one TCP listener of every protocol (SMTP, POP3, LDAP): accepts connections, holds the
 * connection limit with the protocol's refusal, does the implicit-TLS handshake, counts, and
 * closes gracefully. A protocol is a SessionFactory on it.
 *
 * Metrics, by one rule for every protocol (labelled `listener`): postamt_<protocol>_connections_total,
 * postamt_<protocol>_connections_active (gauge), postamt_<protocol>_connections_refused_total,
 * postamt_<protocol>_tls_failures_total (failed handshakes, implicit and after STARTTLS).
 */
export class Listener {
  private readonly server: Server;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  /** Shared by every event of this listener: the registry keeps the object of a label set's first event. */
  private readonly labels: { listener: string };
  private readonly metric: { total: string; active: string; refused: string; tlsFailures: string };
  private readonly sessions = new Set<ListenerSession>();
  /** TLS sockets in their implicit handshake: destroyed at once on close (no session could finish). */
  private readonly handshakes = new Set<TLSSocket>();
  /** Every TCP socket held (connections and refusals), so close() can destroy what is left. */
  private readonly sockets = new Set<Socket>();
  private open = 0;
  /** Open connections per client address (only for addresses that are counted). */
  private readonly byAddress = new Map<string, number>();
  private nextId = 1;
  private lastRefusalLog = -Infinity;
  /** Refusals since the last `connection limit reached` line. */
  private refusedUnlogged = 0;
  private closing = false;
  private bound: { host: string; port: number } | undefined;

  constructor(
    private readonly opts: ListenerOptions,
    private readonly createSession: SessionFactory,
  ) {
    if (opts.tlsMode === 'implicit' && !opts.tls) throw new Error(`${opts.protocol} ${opts.name}: implicit TLS needs a certificate and key`);
    this.log = opts.logger;
    this.metrics = opts.metrics;
    this.labels = { listener: opts.name };
    const p = `postamt_${opts.protocol}`;
    this.metric = { total: `${p}_connections_total`, active: `${p}_connections_active`, refused: `${p}_connections_refused_total`, tlsFailures: `${p}_tls_failures_total` };
    const P = opts.protocol.toUpperCase();
    this.metrics?.declare(this.metric.total, 'counter', `${P} connections accepted`);
    this.metrics?.declare(this.metric.active, 'gauge', `${P} connections open now`);
    this.metrics?.declare(this.metric.refused, 'counter', `${P} connections refused at the connection limit`);
    this.metrics?.declare(this.metric.tlsFailures, 'counter', `${P} TLS handshakes that failed (implicit TLS and STARTTLS)`);
    // pauseOnConnect when connections may go to other processes: nothing is read here first.
    this.server = createServer({ allowHalfOpen: opts.allowHalfOpen, noDelay: true, pauseOnConnect: opts.handOver !== undefined }, (socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err, listener: opts.name }, `${opts.protocol} listener error`));
  }

  /** Open connections right now, TLS handshakes included. */
  get connectionCount(): number {
    return this.open;
  }

  /** The address bound by listen(). */
  get address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', onError);
        const a = this.server.address() as AddressInfo;
        this.bound = { host: a.address, port: a.port };
        this.log.info({ listener: this.opts.name, host: a.address, port: a.port, tls: this.opts.tlsMode }, `${this.opts.protocol} listening`);
        resolve(this.bound);
      });
    });
  }

  /**
   * Stops accepting, drops TLS handshakes in progress, asks every session to stop (each tells
   * its client in its protocol's words), waits up to `graceMs` for them, destroys what is left,
   * and waits a little longer for sessions whose backend call still runs.
   */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.handshakes) s.destroy();
    for (const s of this.sessions) s.stop();
    await this.sessionsDone(graceMs);
    for (const s of this.sockets) s.destroy();
    // Sessions now end at once, unless one waits on a backend call that hangs: that one
    // must not hold shutdown forever.
    await this.sessionsDone(STUCK_SESSION_WAIT_MS);
    await closed;
  }

  /**
   * Serves a connection another process accepted and passed here (directory.processes), as it
   * arrives over IPC, not yet read from. That process counted it against the limit.
   */
  adopt(socket: Socket): void {
    // A socket passed between processes comes without the listener's options.
    socket.allowHalfOpen = this.opts.allowHalfOpen;
    socket.setNoDelay(true);
    this.serve(socket, false);
  }

  /** A failed TLS handshake, implicit or after STARTTLS: counted and logged here, once. */
  tlsFailed(remote: string | undefined, reason: string): void {
    // Handshakes cut off by close() are not the client's failure.
    if (this.closing) return;
    this.metrics?.inc(this.metric.tlsFailures, this.labels);
    this.log.debug({ listener: this.opts.name, remote, reason }, `${this.opts.protocol} tls handshake failed`);
  }

  private async sessionsDone(maxMs: number): Promise<void> {
    if (this.sessions.size === 0) return;
    const ac = new AbortController();
    const timeout = delay(maxMs, undefined, { signal: ac.signal }).catch(() => undefined);
    await Promise.race([Promise.all([...this.sessions].map((s) => s.done)), timeout]);
    ac.abort();
  }

  private accept(raw: Socket): void {
    const h = this.opts.handOver;
    if (h !== undefined && !this.closing && h.active() < this.opts.maxConnections && h.handOff(raw)) return;
    this.serve(raw, h !== undefined);
  }

  private serve(raw: Socket, paused: boolean): void {
    raw.on('error', ignore);
    if (this.closing) {
      raw.destroy();
      return;
    }
    const max = this.opts.maxConnections;
    if (this.open >= max || (this.opts.handOver !== undefined && this.opts.handOver.active() >= max)) {
      this.refuse(raw, this.opts.refusal, 'connection limit reached');
      return;
    }
    const address = this.countedAddress(raw);
    if (address !== undefined) {
      const n = this.byAddress.get(address) ?? 0;
      if (n >= this.opts.perAddress!.max) {
        this.refuse(raw, this.opts.perAddress!.refusal, 'connection limit per address reached');
        return;
      }
      this.byAddress.set(address, n + 1);
      raw.once('close', () => {
        const left = (this.byAddress.get(address) ?? 1) - 1;
        if (left > 0) this.byAddress.set(address, left);
        else this.byAddress.delete(address);
      });
    }
    this.open++;
    this.sockets.add(raw);
    this.metrics?.inc(this.metric.total, this.labels);
    this.metrics?.gauge(this.metric.active, this.labels, 1);
    const id = this.nextId++;
    if (this.opts.tlsMode !== 'implicit') {
      // Accepted paused (pauseOnConnect) but served here: reading starts with the session.
      if (paused) raw.resume();
      this.startSession(raw, raw, id);
      return;
    }
    const remote = raw.remoteAddress;
    let secure: TLSSocket | undefined;
    const track = (s: TLSSocket): void => {
      secure = s;
      this.handshakes.add(s);
    };
    void serverHandshake(raw, this.opts.tls!, this.opts.handshakeTimeoutMs, track).then((hs) => {
      this.handshakes.delete(secure!);
      if (!hs.ok) {
        this.tlsFailed(remote, hs.reason);
        this.connectionEnded(raw);
        return;
      }
      // Closing meanwhile, or the client already gone after its Finished: nothing to serve.
      if (this.closing || hs.socket.destroyed) {
        hs.socket.destroy();
        this.connectionEnded(raw);
        return;
      }
      this.startSession(raw, hs.socket, id);
    });
  }

  private startSession(raw: Socket, socket: Socket, id: number): void {
    const session = this.createSession(socket, id);
    this.sessions.add(session);
    void session.done.finally(() => {
      this.sessions.delete(session);
      this.connectionEnded(raw);
    });
  }

  private connectionEnded(raw: Socket): void {
    this.sockets.delete(raw);
    this.open--;
    this.metrics?.gauge(this.metric.active, this.labels, -1);
  }

  /** The client's address when the per-address limit applies to it (IPv4-mapped IPv6 as IPv4). */
  private countedAddress(raw: Socket): string | undefined {
    const pa = this.opts.perAddress;
    const remote = raw.remoteAddress;
    if (!pa || remote === undefined) return undefined;
    const address = remote.toLowerCase().startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
    const family = address.includes(':') ? 'ipv6' : 'ipv4';
    return pa.exceptions.check(address, family) ? undefined : address;
  }

  /** Over a connection limit: the protocol's refusal (inside TLS on implicit), then close. */
  private refuse(raw: Socket, refusal: string | Buffer, why: string): void {
    this.metrics?.inc(this.metric.refused, this.labels);
    this.refusedUnlogged++;
    const now = Date.now();
    // A flood of refusals is one line per interval, with how many it stands for; the counter has them all.
    if (now - this.lastRefusalLog >= REFUSAL_LOG_INTERVAL_MS) {
      this.log.warn({ listener: this.opts.name, remote: raw.remoteAddress, limit: this.opts.maxConnections, perAddress: this.opts.perAddress?.max, refused: this.refusedUnlogged }, `${this.opts.protocol} ${why}`);
      this.lastRefusalLog = now;
      this.refusedUnlogged = 0;
    }
    this.sockets.add(raw);
    const timer = setTimeout(() => raw.destroy(), REFUSE_TIMEOUT_MS);
    timer.unref();
    raw.once('close', () => {
      clearTimeout(timer);
      this.sockets.delete(raw);
    });
    if (this.opts.tlsMode !== 'implicit') {
      raw.end(refusal);
      return;
    }
    // Only the certificate: a refused client need not show its own.
    void serverHandshake(raw, { context: this.opts.tls!.context }, REFUSE_TIMEOUT_MS).then((hs) => {
      if (hs.ok) hs.socket.end(refusal);
    });
  }
}

const ignore = (): void => undefined;

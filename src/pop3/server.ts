import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger, type Logger, type Metrics } from '../core/index.js';
import { pop3 } from '../wire/index.js';
import { Pop3Connection } from './connection.js';
import { DEFAULT_MAX_BAD_COMMANDS, resolveLimits, type Pop3Limits, type Pop3ServerOptions } from './options.js';
import { Pop3Session } from './session.js';
import { METRIC } from './context.js';

// After close() destroyed the sockets, how long it still waits for sessions busy in a backend call.
const STUCK_SESSION_WAIT_MS = 2_000;
// How long a connection refused for the connection limit may take to hear its -ERR.
const REFUSE_TIMEOUT_MS = 5_000;

/**
 * A POP3 listener: accepts connections, enforces the connection limit (per listener) and
 * runs one Pop3Session per connection. The protocol lives in session.ts (with
 * authorization.ts and transaction.ts for the two states), the socket handling in
 * connection.ts; this file is only the listener's life cycle.
 *
 * Metrics (all labelled `listener`): pop3_sessions_total, pop3_sessions_active (gauge),
 * pop3_connections_refused_total, pop3_logins_total{result=ok|failed|unavailable},
 * pop3_messages_retrieved_total, pop3_messages_deleted_total, pop3_errors_total{kind}.
 */
export class Pop3Server {
  private readonly server: Server;
  private readonly limits: Pop3Limits;
  private readonly tls: SecureContext | undefined;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly listener: string;
  private readonly sessions = new Map<Pop3Session, Promise<void>>();
  /** Every socket we hold (sessions and refusals), so close() can destroy what is left. */
  private readonly sockets = new Set<Socket>();
  private nextId = 1;
  private closing = false;

  constructor(private readonly opts: Pop3ServerOptions) {
    if (opts.mode === 'implicit' && !opts.tls) throw new Error('POP3 with implicit TLS needs a certificate and key');
    this.limits = resolveLimits(opts.limits);
    this.tls = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key, ...(opts.clientCa?.length ? { ca: opts.clientCa } : {}) }) : undefined;
    this.log = opts.logger ?? silentLogger();
    this.metrics = opts.metrics;
    this.listener = opts.name ?? opts.mode;
    // allowHalfOpen: a client may send its last commands and shut its side at once (e.g.
    // `printf … | nc`); it still gets its answers.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err, listener: this.listener }, 'pop3 listener error'));
    this.metrics?.declare('pop3_sessions_active', 'gauge', 'Open POP3 sessions');
  }

  /** Open sessions right now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', onError);
        const a = this.server.address() as AddressInfo;
        this.log.info({ listener: this.listener, host: a.address, port: a.port, mode: this.opts.mode }, 'pop3 listening');
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /**
   * Stops accepting, tells idle sessions the server is going away, lets busy ones finish
   * their current command for up to `graceMs`, then destroys whatever is still open.
   * Sessions end without UPDATE, so nothing is deleted for a client that did not QUIT.
   */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.keys()) s.stop('shutdown');
    await this.sessionsDone(graceMs);
    for (const s of this.sockets) s.destroy();
    // Sessions now end at once, unless one waits on a backend call that hangs: that one
    // must not hold shutdown forever.
    await this.sessionsDone(STUCK_SESSION_WAIT_MS);
    await closed;
  }

  private async sessionsDone(maxMs: number): Promise<void> {
    const ac = new AbortController();
    const timeout = delay(maxMs, undefined, { signal: ac.signal }).catch(() => undefined);
    await Promise.race([Promise.all(this.sessions.values()), timeout]);
    ac.abort();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.sessions.size >= this.limits.maxConnections) {
      this.refuse(socket);
      return;
    }
    const id = this.nextId++;
    const log = this.log.child({ listener: this.listener });
    const conn = new Pop3Connection(socket, this.limits.maxLineLength, this.limits.idleTimeoutMs, log, Boolean(this.opts.clientCa?.length));
    const session = new Pop3Session(conn, {
      id,
      backend: this.opts.backend,
      hostname: this.opts.hostname,
      mode: this.opts.mode,
      tls: this.tls,
      limits: this.limits,
      maxBadCommands: this.opts.maxBadCommands ?? DEFAULT_MAX_BAD_COMMANDS,
      log,
      metrics: this.metrics,
      listener: this.listener,
      throttle: this.opts.throttle,
    });
    this.metrics?.inc('pop3_sessions_total', { listener: this.listener });
    this.metrics?.gauge('pop3_sessions_active', { listener: this.listener }, 1);
    log.debug({ session: id, remote: conn.remoteAddress }, 'pop3 connection');
    const done = session
      .run()
      .then(() => conn.closed)
      .finally(() => {
        this.sessions.delete(session);
        this.metrics?.gauge('pop3_sessions_active', { listener: this.listener }, -1);
        log.debug({ session: id }, 'pop3 connection closed');
      });
    this.sessions.set(session, done);
  }

  /**
   * Over the connection limit: say so and hang up. On the implicit-TLS listener the answer
   * can only be given inside TLS, so the handshake is done first (bounded by a timer).
   */
  private refuse(socket: Socket): void {
    this.metrics?.inc('pop3_connections_refused_total', { listener: this.listener });
    this.metrics?.inc(METRIC.errors, { listener: this.listener, kind: 'limit' });
    this.log.warn({ listener: this.listener, remote: socket.remoteAddress, limit: this.limits.maxConnections }, 'pop3 connection limit reached');
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), REFUSE_TIMEOUT_MS);
    timer.unref();
    socket.on('close', () => clearTimeout(timer));
    const line = pop3.errLine('too many connections, try again later', 'SYS/TEMP');
    if (this.opts.mode === 'plain' || !this.tls) {
      socket.end(line);
      return;
    }
    const secure = new TLSSocket(socket, { isServer: true, secureContext: this.tls });
    secure.on('error', () => undefined);
    secure.once('secure', () => secure.end(line));
    secure.on('close', () => socket.destroy());
  }
}

export function createPop3Server(opts: Pop3ServerOptions): Pop3Server {
  return new Pop3Server(opts);
}

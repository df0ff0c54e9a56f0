import type { Socket } from 'node:net';
import { Listener, addressList, serverTls, silentLogger, type ListenerSession, type ServerTls } from '../core/index.js';
import { pop3 } from '../wire/index.js';
import { Pop3Connection } from './connection.js';
import { DEFAULT_MAX_BAD_COMMANDS, resolveLimits, type Pop3Limits, type Pop3ServerOptions } from './options.js';
import { Pop3Session } from './session.js';
import type { SessionContext } from './context.js';

/**
 * A POP3 listener: a session factory on core/listener.ts (accept, connection limit, implicit
 * TLS, graceful close, the connection metrics). The protocol lives in session.ts (with
 * authorization.ts and transaction.ts for the two states), the socket handling in connection.ts.
 *
 * Metrics (all labelled `listener`): the listener's postamt_pop3_connections_total,
 * postamt_pop3_connections_active (gauge), postamt_pop3_connections_refused_total,
 * postamt_pop3_tls_failures_total; the sessions' postamt_pop3_logins_total{result=ok|failed|unavailable},
 * postamt_pop3_messages_retrieved_total, postamt_pop3_messages_deleted_total, postamt_pop3_errors_total{kind}.
 */
export class Pop3Server {
  private readonly listener: Listener;
  /** What every session shares; each gets a copy with its own id. */
  private readonly shared: Omit<SessionContext, 'id'>;
  private readonly limits: Pop3Limits;

  constructor(opts: Pop3ServerOptions) {
    if (opts.tlsMode !== 'none' && !opts.tls) throw new Error(`pop3: TLS mode ${opts.tlsMode} needs a certificate and key`);
    this.limits = resolveLimits(opts.limits);
    const name = opts.name ?? opts.tlsMode;
    const tls: ServerTls | undefined = opts.tls ? serverTls(opts.tls, opts.clientCa, `pop3 ${name}`, opts.clientCertificate) : undefined;
    const logger = opts.logger ?? silentLogger();
    this.listener = new Listener(
      {
        protocol: 'pop3',
        name,
        host: opts.host,
        port: opts.port,
        tlsMode: opts.tlsMode,
        tls,
        maxConnections: this.limits.maxConnections,
        handshakeTimeoutMs: this.limits.idleTimeoutMs,
        refusal: pop3.errLine('too many connections, try again later', 'SYS/TEMP'),
        perAddress: {
          max: this.limits.maxConnectionsPerAddress,
          exceptions: addressList(this.limits.connectionLimitExceptions),
          refusal: pop3.errLine('too many connections from your address, try again later', 'SYS/TEMP'),
        },
        // A client may send its last commands and shut its side at once (e.g. `printf … | nc`);
        // it still gets its answers.
        allowHalfOpen: true,
        logger,
        metrics: opts.metrics,
      },
      (socket, id) => this.session(socket, id),
    );
    this.shared = {
      backend: opts.backend,
      hostname: opts.hostname,
      tlsMode: opts.tlsMode,
      tls: opts.tlsMode === 'starttls' ? tls : undefined,
      limits: this.limits,
      maxBadCommands: opts.maxBadCommands ?? DEFAULT_MAX_BAD_COMMANDS,
      log: logger.child({ listener: name }),
      metrics: opts.metrics,
      listener: name,
      throttle: opts.throttle,
      tlsFailed: (remote, reason) => this.listener.tlsFailed(remote, reason),
    };
  }

  /** Open connections right now. */
  get sessionCount(): number {
    return this.listener.connectionCount;
  }

  listen(): Promise<{ host: string; port: number }> {
    return this.listener.listen();
  }

  /**
   * Stops accepting, tells idle sessions the server is going away, lets busy ones finish
   * their current command for up to `graceMs`, then destroys whatever is still open.
   * Sessions end without UPDATE, so nothing is deleted for a client that did not QUIT.
   */
  close(graceMs = 0): Promise<void> {
    return this.listener.close(graceMs);
  }

  private session(socket: Socket, id: number): ListenerSession {
    const ctx = this.shared;
    const conn = new Pop3Connection(socket, this.limits.maxLineLength, this.limits.idleTimeoutMs, ctx.log, ctx.tlsMode === 'implicit');
    const session = new Pop3Session(conn, { ...ctx, id });
    ctx.log.debug({ session: id, remote: conn.remoteAddress }, 'pop3 connection');
    const done = session
      .run()
      .then(() => conn.closed)
      .finally(() => ctx.log.debug({ session: id }, 'pop3 connection closed'));
    return { done, stop: () => session.stop('shutdown') };
  }
}

export function createPop3Server(opts: Pop3ServerOptions): Pop3Server {
  return new Pop3Server(opts);
}

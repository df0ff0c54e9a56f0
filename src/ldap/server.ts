import type { Socket } from 'node:net';
import { Listener, addressList, serverTls, silentLogger, type ListenerSession, type ServerTls } from '../core/index.js';
import { LDAP_OID, encodeMessage, noticeOfDisconnection } from '../wire/ldap/index.js';
import { LdapResultCode } from './backend.js';
import { LdapConnection } from './connection.js';
import { resolveLimits, type LdapLimits, type LdapServerOptions } from './options.js';
import type { RootDseInfo } from './root-dse.js';
import { LdapSession, type SessionOptions } from './session.js';

/**
 * An LDAP listener, with StartTLS or LDAPS: a session factory on core/listener.ts (accept,
 * connection limit, implicit TLS, graceful close, the connection metrics, the hand-over to
 * other processes). The protocol lives in session.ts and search.ts, the socket handling in
 * connection.ts.
 *
 * Metrics (labelled `listener`): the listener's postamt_ldap_connections_total,
 * postamt_ldap_connections_active (gauge), postamt_ldap_connections_refused_total,
 * postamt_ldap_tls_failures_total; the sessions' postamt_ldap_operations_total{op,result},
 * postamt_ldap_binds_total{result}.
 */
export class LdapServer {
  private readonly listener: Listener;
  /** What every session shares; each gets a copy with its own id. */
  private readonly shared: Omit<SessionOptions, 'id'>;
  private readonly limits: LdapLimits;
  private readonly implicit: boolean;

  constructor(opts: LdapServerOptions) {
    if (opts.tlsMode !== 'none' && !opts.tls) throw new Error(`ldap: TLS mode ${opts.tlsMode} needs a certificate and key`);
    this.limits = resolveLimits(opts.limits);
    this.implicit = opts.tlsMode === 'implicit';
    const tls: ServerTls | undefined = opts.tls ? serverTls(opts.tls) : undefined;
    const logger = opts.logger ?? silentLogger();
    const name = opts.name ?? (this.implicit ? 'ldaps' : 'ldap');
    const rootDse: RootDseInfo = {
      namingContexts: opts.backend.namingContexts(),
      supportedControls: [LDAP_OID.pagedResults],
      supportedExtensions: [...(opts.tlsMode === 'starttls' ? [LDAP_OID.startTls] : []), LDAP_OID.whoAmI],
      vendorVersion: opts.vendorVersion ?? '0',
    };
    this.listener = new Listener(
      {
        protocol: 'ldap',
        name,
        host: opts.host,
        port: opts.port,
        tlsMode: opts.tlsMode,
        tls,
        maxConnections: this.limits.maxConnections,
        handshakeTimeoutMs: this.limits.idleTimeoutMs,
        refusal: encodeMessage(noticeOfDisconnection(LdapResultCode.busy, 'too many connections, try again later')),
        perAddress: {
          max: this.limits.maxConnectionsPerAddress,
          exceptions: addressList(this.limits.connectionLimitExceptions),
          refusal: encodeMessage(noticeOfDisconnection(LdapResultCode.busy, 'too many connections from your address, try again later')),
        },
        // A client may send its requests and shut its side at once; it still gets answers.
        allowHalfOpen: true,
        ...(opts.handOver ? { handOver: opts.handOver } : {}),
        logger,
        metrics: opts.metrics,
      },
      (socket, id) => this.session(socket, id),
    );
    this.shared = {
      listener: name,
      backend: opts.backend,
      limits: this.limits,
      startTls: opts.tlsMode === 'starttls' ? tls : undefined,
      rootDse,
      log: logger.child({ listener: name }),
      metrics: opts.metrics,
      throttle: opts.throttle,
      tlsFailed: (remote, reason) => this.listener.tlsFailed(remote, reason),
    };
  }

  /** Open connections in this process right now. */
  get sessionCount(): number {
    return this.listener.connectionCount;
  }

  listen(): Promise<{ host: string; port: number }> {
    return this.listener.listen();
  }

  /** Stops accepting, sends every session a Notice of Disconnection, waits up to `graceMs`, then destroys what is left. */
  close(graceMs = 0): Promise<void> {
    return this.listener.close(graceMs);
  }

  /**
   * Serves a connection accepted by another process and passed here (directory.processes):
   * the socket as it arrives over IPC, not yet read from. The caller (the process that
   * accepted it) has applied the connection limit.
   */
  adopt(socket: Socket): void {
    this.listener.adopt(socket);
  }

  private session(socket: Socket, id: number): ListenerSession {
    const opts = this.shared;
    const conn = new LdapConnection(socket, { maxRequestSize: this.limits.maxRequestSize, idleTimeoutMs: this.limits.idleTimeoutMs, requestTimeoutMs: this.limits.requestTimeoutMs, secure: this.implicit }, opts.log);
    const session = new LdapSession(conn, { ...opts, id });
    opts.log.debug({ conn: id, remote: conn.remoteAddress }, 'ldap connection');
    const done = session.run().finally(() => opts.log.debug({ conn: id }, 'ldap connection closed'));
    return { done, stop: () => session.stop() };
  }
}

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger, type Logger, type Metrics } from '../core/index.js';
import { LDAP_OID, encodeMessage, noticeOfDisconnection } from '../wire/ldap/index.js';
import { LdapResultCode } from './backend.js';
import { LdapConnection } from './connection.js';
import { resolveLimits, type LdapLimits, type LdapServerOptions } from './options.js';
import type { RootDseInfo } from './root-dse.js';
import { LdapSession } from './session.js';

// After close() destroyed the sockets, how long it still waits for sessions stuck in a backend call.
const STUCK_SESSION_WAIT_MS = 2_000;
// How long a connection refused for the connection limit may take to hear why.
const REFUSE_TIMEOUT_MS = 5_000;

/**
 * An LDAP listener, plain (with StartTLS) or LDAPS: accepts connections under the connection
 * limit and runs one LdapSession per connection. The protocol lives in session.ts and
 * search.ts, the socket handling in connection.ts; this file is the listener's life cycle.
 *
 * Metrics (labelled `listener`): postamt_ldap_connections_total, postamt_ldap_connections_active (gauge),
 * postamt_ldap_connections_refused_total, postamt_ldap_operations_total{op,result}, postamt_ldap_binds_total{result},
 * postamt_ldap_tls_failures_total.
 */
export class LdapServer {
  private readonly server: Server;
  private readonly limits: LdapLimits;
  private readonly tls: SecureContext | undefined;
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly listener: string;
  private readonly rootDse: RootDseInfo;
  private readonly sessions = new Map<LdapSession, Promise<void>>();
  private readonly sockets = new Set<Socket>();
  private nextId = 1;
  private closing = false;

  constructor(private readonly opts: LdapServerOptions) {
    if (opts.mode === 'ldaps' && !opts.tls) throw new Error('LDAPS needs a certificate and key');
    this.limits = resolveLimits(opts.limits);
    this.tls = opts.tls ? createSecureContext({ cert: opts.tls.cert, key: opts.tls.key }) : undefined;
    this.log = opts.logger ?? silentLogger();
    this.metrics = opts.metrics;
    this.listener = opts.name ?? (opts.mode === 'ldaps' ? 'ldaps' : 'ldap');
    this.rootDse = {
      namingContexts: opts.backend.namingContexts(),
      supportedControls: [LDAP_OID.pagedResults],
      supportedExtensions: [...(opts.mode === 'plain' && this.tls ? [LDAP_OID.startTls] : []), LDAP_OID.whoAmI],
      vendorVersion: opts.vendorVersion ?? '0',
    };
    // allowHalfOpen: a client may send its requests and shut its side at once; it still gets answers.
    const onConnection = (socket: Socket): void => this.accept(socket);
    // pauseOnConnect when connections may go to other processes: nothing is read here first.
    this.server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: opts.distribute !== undefined }, onConnection);
    this.server.on('error', (err) => this.log.error({ err, listener: this.listener }, 'ldap listener error'));
    this.metrics?.declare('postamt_ldap_connections_active', 'gauge', 'Open LDAP connections');
  }

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
        this.log.info({ listener: this.listener, host: a.address, port: a.port, mode: this.opts.mode }, 'ldap listening');
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting, sends every session a Notice of Disconnection, waits up to `graceMs`, then destroys what is left. */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.keys()) s.stop();
    await this.sessionsDone(graceMs);
    for (const s of this.sockets) s.destroy();
    await this.sessionsDone(STUCK_SESSION_WAIT_MS);
    await closed;
  }

  private async sessionsDone(maxMs: number): Promise<void> {
    const ac = new AbortController();
    const timeout = delay(maxMs, undefined, { signal: ac.signal }).catch(() => undefined);
    await Promise.race([Promise.all(this.sessions.values()), timeout]);
    ac.abort();
  }

  /**
   * Serves a connection accepted by another process and passed here (directory.processes):
   * the socket as it arrives over IPC, not yet read from. The caller (the process that
   * accepted it) has applied the connection limit.
   */
  adopt(socket: Socket): void {
    // A socket passed between processes comes without the listener's options.
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    this.serve(socket);
  }

  private accept(raw: Socket): void {
    const d = this.opts.distribute;
    if (d !== undefined && !this.closing && d.active() < this.limits.maxConnections && d.handOff(raw)) return;
    this.serve(raw, d !== undefined);
  }

  private serve(raw: Socket, paused = false): void {
    this.sockets.add(raw);
    raw.on('close', () => this.sockets.delete(raw));
    raw.on('error', () => undefined);
    if (this.closing) {
      raw.destroy();
      return;
    }
    if (this.sessions.size >= this.limits.maxConnections || (this.opts.distribute !== undefined && this.opts.distribute.active() >= this.limits.maxConnections)) {
      this.refuse(raw);
      return;
    }
    // Accepted paused (pauseOnConnect) but served here: reading starts with the session.
    if (paused && this.opts.mode === 'plain') raw.resume();
    const id = this.nextId++;
    const log = this.log.child({ listener: this.listener });
    let socket: Socket = raw;
    if (this.opts.mode === 'ldaps') {
      const secure = new TLSSocket(raw, { isServer: true, secureContext: this.tls! });
      secure.on('error', () => undefined);
      secure.once('close', () => raw.destroy());
      socket = secure;
    }
    const conn = new LdapConnection(socket, { maxRequestSize: this.limits.maxRequestSize, idleTimeoutMs: this.limits.idleTimeoutMs, secure: this.opts.mode === 'ldaps' }, log);
    const session = new LdapSession(conn, {
      id,
      listener: this.listener,
      backend: this.opts.backend,
      limits: this.limits,
      startTls: this.opts.mode === 'plain' ? this.tls : undefined,
      rootDse: this.rootDse,
      log,
      metrics: this.metrics,
      throttle: this.opts.throttle,
    });
    this.metrics?.inc('postamt_ldap_connections_total', { listener: this.listener });
    this.metrics?.gauge('postamt_ldap_connections_active', { listener: this.listener }, 1);
    log.debug({ conn: id, remote: conn.remoteAddress }, 'ldap connection');
    const done = session.run().finally(() => {
      this.sessions.delete(session);
      this.metrics?.gauge('postamt_ldap_connections_active', { listener: this.listener }, -1);
      log.debug({ conn: id }, 'ldap connection closed');
    });
    this.sessions.set(session, done);
  }

  /** Over the connection limit: a Notice of Disconnection (busy), inside TLS on LDAPS, then close. */
  private refuse(raw: Socket): void {
    this.metrics?.inc('postamt_ldap_connections_refused_total', { listener: this.listener });
    this.log.warn({ listener: this.listener, remote: raw.remoteAddress, limit: this.limits.maxConnections }, 'ldap connection limit reached');
    const timer = setTimeout(() => raw.destroy(), REFUSE_TIMEOUT_MS);
    timer.unref();
    raw.on('close', () => clearTimeout(timer));
    const notice = encodeMessage(noticeOfDisconnection(LdapResultCode.busy, 'too many connections, try again later'));
    if (this.opts.mode === 'plain') {
      raw.end(notice);
      return;
    }
    const secure = new TLSSocket(raw, { isServer: true, secureContext: this.tls! });
    secure.on('error', () => undefined);
    secure.once('secure', () => secure.end(notice));
    secure.on('close', () => raw.destroy());
  }
}

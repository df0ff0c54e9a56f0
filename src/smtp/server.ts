import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession, type SMTPServerOptions } from 'smtp-server';
import type { Socket } from 'node:net';
import type { Logger } from '../core/index.js';
import type { TLSSocket } from 'node:tls';
import { Listener, Metrics, SMTP_MESSAGE_SECONDS, SMTP_MESSAGE_BUCKETS, addressList, clientCertificateAccount, errorMessage, randomHex, resumableServerTls, serverContextOptions, type ClientCertificateMode, type ListenerSession, type LoginThrottle, type ServerPem, type ServerTls, type TlsMode } from '../core/index.js';
import type { SmtpConfig } from '../config/index.js';
import { DataChecker, describeViolation } from '../wire/smtp/index.js';
import { SmtpReply, replies } from './reply.js';
import type { SmtpBackend, SmtpEnvelope, SmtpSession } from './backend.js';
import { installSmtpServerPatches, REPLY_SENT } from './patches.js';
import { SessionClock, type CutOff } from './session-clock.js';
import { GreetingGate } from './greeting-gate.js';
import { GREETING_HOLD, type GreetingHold } from './greeting-hold.js';

export interface SmtpListenerOptions {
  /** A name for logs, metrics and endpoints: 'mx', 'submission', 'clientmodule'… */
  name: string;
  host: string;
  port: number;
  /** `starttls`: plain with STARTTLS offered; `implicit`: TLS from the first byte; `none`: no TLS. */
  tlsMode: TlsMode;
  tls?: ServerPem;
  /** CA certificates (PEM): when given, TLS clients are asked for a certificate they issued (`clientCertificate`). */
  clientCa?: string[];
  /**
   * With clientCa: `require` (the default) refuses a client without such a certificate in the
   * handshake; `request` serves it too. Either way a verified certificate naming an account
   * (rfc822Name) must name the AUTH account, else AUTH fails (535).
   */
  clientCertificate?: Exclude<ClientCertificateMode, 'off'>;
  /** Offer AUTH (PLAIN, LOGIN). */
  auth: boolean;
  /** MAIL needs a successful AUTH first (530 5.7.0 otherwise). */
  requireAuth: boolean;
  /** Allow AUTH without TLS (only sensible on loopback). */
  allowInsecureAuth?: boolean;
  hostname: string;
  /** service.smtp, or the client module's limits (clientModule.smtp and its message limits). */
  limits: Omit<SmtpConfig, 'mx' | 'submission'>;
  backend: SmtpBackend;
  logger: Logger;
  metrics: Metrics;
  /** Shared failed-login accounting per client address (also used by POP3). */
  throttle?: LoginThrottle;
  /** The listener's pregreet test (config `greetingDelay`); none: every greeting goes at once. */
  greetingDelay?: { delayMs: number; rememberMs: number; maxRemembered: number; exempt: readonly string[] };
}

/** smtp-server's connection object (its type is not exported by name). */
type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

/**
 * smtp-server's set of open connections (a public field), which also tells which connection
 * its connect() just made: connect() returns nothing, but adds the connection here at once.
 */
class Connections extends Set<Connection> {
  last: Connection | undefined;

  override add(c: Connection): this {
    this.last = c;
    return super.add(c);
  }
}

/** One connection, from accept to close. */
interface ConnState {
  conn: Connection;
  authFailures: number;
  /** The DATA being received and delivered, if any: shutdown lets it finish. */
  data: Promise<void> | undefined;
  /** Shutdown was asked for while DATA ran: 421 once its answer is out. */
  stopAfterData: boolean;
  /** Settles the listener's session when smtp-server reports the connection closed. */
  ended: () => void;
  /** Fired at close: a login waiting for its check is dropped. */
  gone: Gone;
  /** The command deadline, DATA's deadline and least rate. */
  clock: SessionClock;
  /** Error replies (4xx/5xx) so far: Postfix's soft and hard error limits. */
  errors: number;
  /** The DATA stream being read, ended by a cut-off. */
  dataStream?: SMTPServerDataStream;
  cutOff?: CutOff;
}

/** The reason a session's waits end with: one object, so that no abort builds an exception of its own. */
const CLOSED = new Error('connection closed');

/**
 * A session's signal that fires at close (a login waiting for its check, an error delay end),
 * made on first use: most sessions never wait on anything, and an AbortController per
 * connection, aborted at its close, was a measurable part of a short session's cost.
 */
class Gone {
  private ac: AbortController | undefined;
  private fired = false;

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.fired) this.ac.abort(CLOSED);
    }
    return this.ac.signal;
  }

  fire(): void {
    this.fired = true;
    this.ac?.abort(CLOSED);
  }
}

const CUT_OFF_TEXT: Record<CutOff, string> = {
  command: '4.4.2 Timeout waiting for a command, closing connection',
  data: '4.4.2 The DATA phase took too long, closing connection',
  rate: '4.4.2 DATA is arriving too slowly, closing connection',
};

const SHUTDOWN_TEXT = '4.3.2 Server shutting down, try again later';

/**
 * One SMTP listener: nodemailer's smtp-server runs the sessions (TLS after STARTTLS, AUTH with
 * failure delay and limits, DATA checked as it streams, answers that are always SMTP replies
 * with enhanced codes) on connections accepted by core/listener.ts, which holds the connection
 * limit, does implicit TLS, counts and closes as for every protocol; smtp-server's own
 * net.Server is never listened on (its connect() takes a socket accepted elsewhere).
 *
 * Metrics (labelled `listener`): the listener's postamt_smtp_connections_total,
 * postamt_smtp_connections_active (gauge), postamt_smtp_connections_refused_total,
 * postamt_smtp_tls_failures_total; postamt_smtp_messages_accepted_total,
 * postamt_smtp_messages_rejected_total{code}, postamt_smtp_recipients_rejected_total{code},
 * postamt_smtp_auth_failures_total, postamt_smtp_errors_total.
 */
export class SmtpListener {
  private readonly server: SMTPServer;
  private readonly listener: Listener;
  private readonly state = new Map<string, ConnState>();
  private readonly connections = new Connections();
  private readonly gate: GreetingGate | undefined;
  /** The TLS server side of implicit TLS and STARTTLS, with session resumption (the context changes when the ticket key rotates). */
  private readonly tls: ServerTls | undefined;
  private readonly pregreetRefusal: string;

  constructor(private readonly opts: SmtpListenerOptions) {
    installSmtpServerPatches();
    const { limits } = opts;
    const gd = opts.greetingDelay;
    this.gate = gd && gd.delayMs > 0 ? new GreetingGate({ ...gd, exempt: addressList(gd.exempt) }) : undefined;
    // Postscreen's words for a pregreet (its "Protocol error"), with the code a refused session hears.
    this.pregreetRefusal = `5.5.1 ${opts.hostname} Protocol error: talked before the greeting`;
    const certMode = opts.clientCa?.length ? (opts.clientCertificate ?? 'require') : 'off';
    const clientAuth = certMode !== 'off' ? { ca: opts.clientCa, requestCert: true, rejectUnauthorized: certMode === 'require' } : {};
    if (opts.tlsMode !== 'none' && !opts.tls) throw new Error(`smtp ${opts.name}: TLS mode ${opts.tlsMode} needs a certificate`);
    // The TI's profile (tls-profile.ts) replaces smtp-server's own defaults (TLS 1.0 and up).
    const tlsOpts = opts.tlsMode === 'none' || !opts.tls ? {} : { ...serverContextOptions(opts.tls), ...clientAuth };
    const options: SMTPServerOptions = {
      ...tlsOpts,
      // Sessions on an implicit-TLS listener are secure from the start (the listener did the handshake).
      secure: opts.tlsMode === 'implicit',
      name: opts.hostname,
      banner: 'Postamt ESMTP ready',
      size: limits.maxMessageSize,
      maxRecipients: limits.maxRecipients,
      socketTimeout: limits.socketTimeoutMs,
      logger: false,
      disableReverseLookup: !limits.reverseLookup,
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: !opts.requireAuth,
      allowInsecureAuth: opts.allowInsecureAuth ?? false,
      disabledCommands: [...(opts.auth ? [] : ['AUTH']), ...(opts.tlsMode === 'starttls' ? [] : ['STARTTLS'])],
      hideSTARTTLS: opts.tlsMode !== 'starttls',
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hidePIPELINING: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      maxAllowedUnauthenticatedCommands: opts.requireAuth ? 20 : false,
      authRequiredMessage: '5.7.0 Authentication required',
      onClose: (session) => this.onClose(session),
      onAuth: (auth, session, cb) => void this.onAuth(auth.username ?? '', auth.password ?? '', session, cb),
      onMailFrom: (addr, session, cb) => void this.guard(session.id, cb, () => this.opts.backend.checkSender(addr.address, this.envelope(session, addr.args), this.session(session))),
      onRcptTo: (addr, session, cb) => void this.onRcptTo(addr.address, session, cb),
      onData: (stream, session, cb) => this.dataStarted(session.id, this.onData(stream, session, cb)),
    };
    this.server = new SMTPServer(options);
    // One context for implicit TLS and STARTTLS (smtp-server takes its '*' context for STARTTLS), with resumption.
    this.tls = opts.tlsMode === 'none' || !opts.tls ? undefined : resumableServerTls({ ...serverContextOptions(opts.tls), ...(opts.clientCa?.length ? { ca: opts.clientCa } : {}) }, `smtp ${opts.name}`, certMode);
    if (this.tls) this.server.secureContext.set('*', this.tls.context);
    this.server.connections = this.connections;
    this.listener = new Listener(
      {
        protocol: 'smtp',
        name: opts.name,
        host: opts.host,
        port: opts.port,
        tlsMode: opts.tlsMode,
        // The context smtp-server made from the same options, so implicit TLS and STARTTLS offer the same.
        tls: this.tls,
        maxConnections: limits.maxConnections,
        handshakeTimeoutMs: limits.socketTimeoutMs,
        refusal: `421 ${opts.hostname} Too many connected clients, try again in a moment\r\n`,
        perAddress: {
          max: limits.maxConnectionsPerAddress,
          exceptions: addressList(limits.connectionLimitExceptions),
          refusal: `421 4.7.0 ${opts.hostname} Too many connections from your address, try again later\r\n`,
        },
        allowHalfOpen: false,
        logger: opts.logger,
        metrics: opts.metrics,
      },
      (socket) => this.connection(socket),
    );
    this.server.on('error', (err: Error & { meta?: { stage?: string } }) => {
      // A failed STARTTLS handshake (smtp-server marks its TLS errors with meta.stage) is counted
      // when the connection closes (onClose), with those that end by a FIN, of which smtp-server
      // says nothing; anything else is a connection error.
      if (err.meta?.stage === 'connect') return;
      opts.metrics.inc('postamt_smtp_errors_total', { listener: opts.name }, 1, 'SMTP connection errors');
      opts.logger.debug({ listener: opts.name, err: errorMessage(err) }, 'smtp connection error');
    });
    for (const m of ['postamt_smtp_messages_accepted_total', 'postamt_smtp_messages_rejected_total']) {
      opts.metrics.declare(m, 'counter', m.replace(/_/g, ' '));
    }
  }

  async listen(): Promise<{ host: string; port: number }> {
    return this.listener.listen();
  }

  get port(): number {
    return this.listener.address?.port ?? 0;
  }

  /**
   * Stops accepting; a session waiting for a command hears 421 at once, one in DATA when its
   * message is answered; after graceMs what is left is cut off.
   */
  close(graceMs = 10_000): Promise<void> {
    return this.listener.close(graceMs);
  }

  /** The session factory: smtp-server takes the connection from here. */
  private connection(socket: Socket): ListenerSession {
    const id = randomHex(8);
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    if (this.opts.tlsMode === 'starttls' && this.tls) {
      const ctx = this.tls.context;
      if (this.server.secureContext.get('*') !== ctx) this.server.secureContext.set('*', ctx);
    }
    const delayMs = this.gate?.delayFor(socket.remoteAddress) ?? 0;
    if (delayMs > 0) (socket as Socket & { [GREETING_HOLD]?: GreetingHold })[GREETING_HOLD] = this.greetingHold(socket.remoteAddress, delayMs);
    this.server.connect(socket, { id });
    const conn = this.connections.last!;
    const clock = new SessionClock(this.opts.limits, (why) => this.cutOff(id, why));
    const st: ConnState = { conn, authFailures: 0, data: undefined, stopAfterData: false, ended, gone: new Gone(), clock, errors: 0 };
    this.state.set(id, st);
    (conn as unknown as { [REPLY_SENT]: (code: number) => void })[REPLY_SENT] = (code) => this.replied(st, code);
    return { done, stop: () => this.stop(id) };
  }

  private greetingHold(address: string | undefined, delayMs: number): GreetingHold {
    return {
      delayMs,
      refusal: this.pregreetRefusal,
      passed: () => this.gate?.pass(address),
      pregreeted: () => {
        this.gate?.fail(address);
        this.opts.metrics.inc('postamt_smtp_pregreet_total', { listener: this.opts.name }, 1, 'SMTP clients that talked before the greeting (refused)');
        // Debug only: a flood of these would be a flood of log lines; the metric counts them.
        this.opts.logger.debug({ listener: this.opts.name, ip: address }, 'smtp client talked before the greeting');
      },
    };
  }

  /** Every reply sent: the client's clock restarts; errors are counted, and too many end the session. */
  private replied(st: ConnState, code: number): void {
    st.clock.replied();
    if (code < 400 || code === 421) return;
    st.errors++;
    if (st.errors !== this.opts.limits.hardErrorLimit) return;
    this.opts.metrics.inc('postamt_smtp_cutoffs_total', { listener: this.opts.name, why: 'errors' }, 1, 'SMTP sessions ended by the server: deadlines, least DATA rate, error limit');
    this.opts.logger.info({ listener: this.opts.name, ip: st.conn.remoteAddress, errors: st.errors }, 'smtp session cut off: too many errors');
    // After the reply that reached the limit has gone out.
    setImmediate(() => {
      st.clock.stop();
      st.conn.send(421, '4.7.0 Too many errors, closing connection');
      st.conn.close();
    });
  }

  private cutOff(id: string, why: CutOff): void {
    const st = this.state.get(id);
    if (!st) return;
    st.cutOff = why;
    this.opts.metrics.inc('postamt_smtp_cutoffs_total', { listener: this.opts.name, why }, 1, 'SMTP sessions ended by the server: deadlines, least DATA rate, error limit');
    this.opts.logger.info({ listener: this.opts.name, ip: st.conn.remoteAddress, why }, 'smtp session cut off');
    st.dataStream?.destroy();
    st.conn.send(421, CUT_OFF_TEXT[why]);
    st.conn.close();
  }

  private stop(id: string): void {
    const st = this.state.get(id);
    if (!st) return;
    if (st.data) {
      st.stopAfterData = true;
      return;
    }
    st.conn.send(421, SHUTDOWN_TEXT);
    st.conn.close();
  }

  private dataStarted(id: string, data: Promise<void>): void {
    const st = this.state.get(id);
    if (!st) return;
    st.data = data;
    void data.finally(() => {
      st.data = undefined;
      if (st.stopAfterData) this.stop(id);
    });
  }

  private session(s: SMTPServerSession): SmtpSession {
    const tls = s.tlsOptions ? { protocol: s.tlsOptions.version ?? '', cipher: s.tlsOptions.name ?? '' } : undefined;
    const authed = Boolean(s.user);
    return {
      id: s.id,
      listener: this.opts.name,
      remoteAddress: s.remoteAddress,
      clientHostname: s.clientHostname,
      heloName: s.hostNameAppearsAs || '',
      secure: s.secure,
      tls,
      // RFC 3848: HELO is plain SMTP; EHLO is ESMTP, with S for TLS and A for AUTH.
      protocol: s.openingCommand === 'HELO' ? 'SMTP' : `ESMTP${s.secure ? 'S' : ''}${authed ? 'A' : ''}`,
      user: authed ? String(s.user) : undefined,
    };
  }

  private envelope(s: SMTPServerSession, args?: unknown): SmtpEnvelope {
    const mailFrom = s.envelope.mailFrom ? s.envelope.mailFrom.address : '';
    const margs = (args ?? (s.envelope.mailFrom ? s.envelope.mailFrom.args : undefined)) as Record<string, string> | false | undefined;
    const size = margs && margs.SIZE ? Number(margs.SIZE) : undefined;
    const notify = new Map<string, readonly string[]>();
    for (const r of s.envelope.rcptTo as Array<{ address: string; dsn?: { notify?: string[] } }>) {
      if (r.dsn?.notify) notify.set(r.address.toLowerCase(), r.dsn.notify);
    }
    return { mailFrom, rcptTo: s.envelope.rcptTo.map((r) => r.address), declaredSize: size, ...(notify.size ? { notify } : {}) };
  }

  private onClose(session: SMTPServerSession): void {
    try {
      this.opts.backend.sessionClosed?.(this.session(session));
    } catch (err) {
      this.opts.logger.error({ listener: this.opts.name, sid: session.id, err: errorMessage(err) }, 'smtp backend failed to release a session');
    }
    const st = this.state.get(session.id);
    if (!st) return;
    this.state.delete(session.id);
    st.clock.stop();
    // Closed in the middle of a STARTTLS handshake: an error, an alert or a FIN.
    if (st.conn._upgrading) this.listener.tlsFailed(session.remoteAddress, 'STARTTLS handshake not completed');
    st.gone.fire();
    st.ended();
  }

  private async onAuth(username: string, password: string, session: SMTPServerSession, cb: (err: Error | null | undefined, res?: { user: unknown }) => void): Promise<void> {
    const st = this.state.get(session.id) ?? { authFailures: 0, gone: new Gone() };
    // A verified client certificate names the one account this connection may log in as.
    const certAccount = this.certificateAccount(st);
    const fits = (user: string): boolean => certAccount === undefined || user.toLowerCase() === certAccount;
    const cached = await this.cachedLogin(username, password, session);
    if (cached && fits(cached)) {
      this.opts.logger.info({ listener: this.opts.name, sid: session.id, user: cached, ip: session.remoteAddress }, 'smtp auth ok');
      return cb(null, { user: cached });
    }
    // The gate comes before the password is checked: a penalised address is answered without
    // a check, and checks from one address run one after the other.
    const admission = this.opts.throttle ? await this.opts.throttle.admit(session.remoteAddress, st.gone.signal) : undefined;
    if (admission?.kind === 'abandoned') return;
    if (admission && admission.kind !== 'check') {
      st.authFailures++;
      this.opts.metrics.inc('postamt_smtp_auth_failures_total', { listener: this.opts.name }, 1, 'failed SMTP AUTH attempts');
      // Debug only: a flood of these would be a flood of log lines; the metric counts them.
      this.opts.logger.debug({ listener: this.opts.name, sid: session.id, ip: session.remoteAddress, failures: st.authFailures, why: admission.kind }, 'smtp auth not checked');
      await delay(Math.max(this.opts.limits.authFailureDelayMs, admission.kind === 'penalised' ? admission.waitMs : 0), st.gone.signal);
      const reply = st.authFailures >= this.opts.limits.maxAuthFailures ? replies.tooManyAuthFailures() : admission.kind === 'penalised' ? replies.loginPenalised() : replies.loginsBusy();
      return cb(reply.toServerError());
    }
    /** A backend's own 535 (a login it refuses with a reason): a failure like wrong credentials, in its words. */
    let refusal: SmtpReply | undefined;
    try {
      const user = this.opts.backend.authenticate ? await this.opts.backend.authenticate(username, password, this.session(session)) : null;
      if (user && !fits(user)) this.opts.logger.warn({ listener: this.opts.name, sid: session.id, ip: session.remoteAddress }, 'smtp auth refused: the TLS client certificate is of another account');
      else if (user) {
        this.opts.logger.info({ listener: this.opts.name, sid: session.id, user, ip: session.remoteAddress }, 'smtp auth ok');
        return cb(null, { user });
      }
    } catch (err) {
      if (err instanceof SmtpReply && err.code === 535) refusal = err;
      else if (err instanceof SmtpReply) return cb(err.toServerError());
      else {
        this.opts.logger.error({ listener: this.opts.name, sid: session.id, err: errorMessage(err) }, 'smtp auth backend failed');
        return cb(new SmtpReply(454, '4.7.0', 'Temporary authentication failure').toServerError());
      }
    } finally {
      if (admission?.kind === 'check') admission.release();
    }
    st.authFailures++;
    this.opts.metrics.inc('postamt_smtp_auth_failures_total', { listener: this.opts.name }, 1, 'failed SMTP AUTH attempts');
    this.opts.logger.warn({ listener: this.opts.name, sid: session.id, ip: session.remoteAddress, failures: st.authFailures }, 'smtp auth failed');
    // A delay makes guessing slow; repeated failures from one address make it slower still,
    // across connections; after too many failures on this connection it goes.
    const penalty = this.opts.throttle?.failure(session.remoteAddress) ?? 0;
    await delay(Math.max(this.opts.limits.authFailureDelayMs, penalty), st.gone.signal);
    const reply = st.authFailures >= this.opts.limits.maxAuthFailures ? replies.tooManyAuthFailures() : (refusal ?? replies.badCredentials());
    cb(reply.toServerError());
  }

  /** The account the connection's verified TLS client certificate names (implicit TLS or after STARTTLS). */
  private certificateAccount(st: Partial<ConnState>): string | undefined {
    // smtp-server keeps the connection's current socket (the TLSSocket after STARTTLS) in _socket.
    const socket = (st.conn as unknown as { _socket?: TLSSocket } | undefined)?._socket;
    return socket && typeof socket.getPeerCertificate === 'function' ? clientCertificateAccount(socket) : undefined;
  }

  /**
   * A login the backend knows right without the full check (a login-cache hit: an HMAC, no
   * scrypt), so it need not queue behind the other logins from its address. A penalised
   * address gets no such shortcut: its logins go through the gate and wait out the penalty.
   * Undefined: take the normal path (which also reports a backend fault).
   */
  private async cachedLogin(username: string, password: string, session: SMTPServerSession): Promise<string | undefined> {
    const throttle = this.opts.throttle;
    if (!throttle || !this.opts.backend.authenticateCached || throttle.isPenalised(session.remoteAddress)) return undefined;
    try {
      return await this.opts.backend.authenticateCached(username, password, this.session(session));
    } catch {
      return undefined;
    }
  }

  private async onRcptTo(address: string, session: SMTPServerSession, cb: (err?: Error | null) => void): Promise<void> {
    await this.guard(session.id, cb, () => this.opts.backend.checkRecipient(address, this.envelope(session), this.session(session)), (reply) =>
      this.opts.metrics.inc('postamt_smtp_recipients_rejected_total', { listener: this.opts.name, code: reply.enhanced }, 1, 'RCPT TO refused'),
    );
  }

  /** Runs a backend check; SmtpReply errors become the answer, anything else a 451. */
  private async guard(id: string, cb: (err?: Error | null) => void, fn: () => Promise<void>, onReply?: (r: SmtpReply) => void): Promise<void> {
    try {
      await fn();
      cb();
    } catch (err) {
      if (err instanceof SmtpReply) {
        onReply?.(err);
        // Past the soft error limit every refusal waits (1,000 RCPTs were an address directory).
        const st = this.state.get(id);
        if (st && st.errors >= this.opts.limits.softErrorLimit) await delay(this.opts.limits.errorDelayMs, st.gone.signal);
        return cb(err.toServerError());
      }
      this.opts.logger.error({ listener: this.opts.name, err: errorMessage(err) }, 'smtp backend check failed');
      cb(replies.temporary().toServerError());
    }
  }

  private async onData(stream: SMTPServerDataStream, s: SMTPServerSession, cb: (err?: Error | null, msg?: string) => void): Promise<void> {
    const started = performance.now();
    const { limits } = this.opts;
    const envelope = this.envelope(s);
    const session = this.session(s);
    const checker = new DataChecker({ maxBytes: limits.maxMessageSize, maxLineLength: limits.maxLineLength, bareLineFeed: limits.bareLineFeed });
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    const st = this.state.get(s.id);
    if (st) {
      st.dataStream = stream;
      st.clock.dataStarted();
      // The final dot (or the stream's end otherwise): from here on it is the server's turn.
      void ended.then(() => {
        st.clock.dataEnded();
        st.dataStream = undefined;
      });
    }
    async function* body(): AsyncIterable<Buffer> {
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          st?.clock.dataBytes(chunk.length);
          const kept = checker.push(chunk);
          if (kept === null) break;
          if (kept.length) yield kept;
        }
      } catch (err) {
        if (st?.cutOff) throw new SmtpReply(421, '4.4.2', CUT_OFF_TEXT[st.cutOff].slice(6));
        throw err;
      }
      const tail = checker.end();
      const v = checker.failed;
      if (v) {
        const d = describeViolation(v);
        throw new SmtpReply(d.code, d.enhanced, d.text);
      }
      if (tail && tail.length) yield tail;
    }
    let result: { ok: true; text: string } | { ok: false; reply: SmtpReply };
    try {
      result = { ok: true, text: await this.opts.backend.deliver(envelope, session, body()) };
    } catch (err) {
      if (err instanceof SmtpReply) result = { ok: false, reply: err };
      else {
        this.opts.logger.error({ listener: this.opts.name, sid: s.id, err: errorMessage(err) }, 'delivery failed');
        this.opts.metrics.inc('postamt_delivery_errors_total', {}, 1, 'deliveries that failed inside the service');
        result = { ok: false, reply: replies.temporary() };
      }
    }
    // smtp-server reads the command stream only after the DATA stream has ended: drain it.
    if (!stream.readableEnded) {
      stream.on('data', (chunk: Buffer) => st?.clock.dataBytes(chunk.length));
      await ended;
    }
    const ms = Math.round(performance.now() - started);
    const log = { listener: this.opts.name, sid: s.id, from: envelope.mailFrom, rcpts: envelope.rcptTo.length, bytes: checker.size, ms };
    this.opts.metrics.observe(SMTP_MESSAGE_SECONDS, { listener: this.opts.name }, ms / 1000, SMTP_MESSAGE_BUCKETS, 'SMTP DATA to answer, seconds');
    if (result.ok) {
      this.opts.metrics.inc('postamt_smtp_messages_accepted_total', { listener: this.opts.name });
      this.opts.logger.info({ ...log, result: 'accepted' }, 'message accepted');
      cb(null, `2.6.0 ${result.text}`);
    } else {
      this.opts.metrics.inc('postamt_smtp_messages_rejected_total', { listener: this.opts.name, code: result.reply.enhanced });
      this.opts.logger.info({ ...log, result: 'rejected', code: result.reply.code, enhanced: result.reply.enhanced }, 'message rejected');
      cb(result.reply.toServerError());
    }
  }
}

/** Waits `ms`, or less when the connection goes (nobody is left to answer). */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      r();
    };
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal.addEventListener('abort', done, { once: true });
  });
}

import { setTimeout as delay } from 'node:timers/promises';
import { pop3, decodeSaslPlain, parseSaslResponse, SaslError, type SaslPlainCredentials, type SaslResponse } from '../wire/index.js';
import type { Pop3LoginRequest, Pop3LoginResult, Pop3Maildrop } from './backend.js';
import type { SessionContext, SessionOutput } from './context.js';
import { isLoopback } from '../core/index.js';

const { okLine, errLine, continuationLine } = pop3;

type Command = pop3.Pop3Command;
type Only<N extends Command['name']> = Extract<Command, { name: N }>;
export type LoginCommand = Only<'USER' | 'PASS' | 'AUTH'>;

/** What the connection tells about itself, as far as logging in is concerned. */
export interface Peer {
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** The account a verified TLS client certificate names: the only one this connection may log in as. */
  readonly certificateAccount?: string | undefined;
  /** Settles when the connection is gone: a failure delay need not outlive its client. */
  readonly closed: Promise<void>;
}

export type LoggedIn = (maildrop: Pop3Maildrop, account: string) => Promise<void>;

/**
 * Logging in, in the AUTHORIZATION state: USER/PASS (RFC 1939) and AUTH PLAIN (RFC 5034 with
 * RFC 4616), the cleartext policy, and the defence against guessing (a delay before every
 * failure answer, and the connection closed after maxAuthFailures).
 */
export class Authorization {
  private pendingUser: string | undefined;
  private saslPending = false;
  private failures = 0;

  constructor(
    private readonly ctx: SessionContext,
    private readonly peer: Peer,
    private readonly out: SessionOutput,
    private readonly loggedIn: LoggedIn,
  ) {}

  /** Whether credentials may be sent now: always under TLS, in cleartext only by policy. */
  get allowed(): boolean {
    if (this.peer.secure) return true;
    const policy = this.ctx.limits.allowPlaintextAuth;
    return policy === 'always' || (policy === 'loopback' && isLoopback(this.peer.remoteAddress));
  }

  /** True after `AUTH PLAIN` without initial response: the next line is the SASL response. */
  get awaitingResponse(): boolean {
    return this.saslPending;
  }

  /**
   * Called for every line that is not a SASL response: PASS may only follow USER directly
   * (RFC 1939 section 7), and an over-long line aborts a SASL exchange.
   */
  interrupted(by: Command['name'] | 'invalid' | 'overflow'): void {
    if (by !== 'PASS') this.pendingUser = undefined;
    if (by === 'overflow') this.saslPending = false;
  }

  /** After STLS nothing learned in cleartext may count (RFC 2595 section 4). */
  forget(): void {
    this.pendingUser = undefined;
    this.saslPending = false;
  }

  handle(cmd: LoginCommand): Promise<void> {
    if (!this.allowed) return this.out.bad('plaintext authentication is not allowed here; use STLS first', 'AUTH');
    switch (cmd.name) {
      case 'USER':
        this.pendingUser = cmd.user;
        // The same answer for every name: whether a mailbox exists is told by PASS, delayed.
        return this.out.reply(okLine('send PASS'));
      case 'PASS': {
        const user = this.pendingUser;
        this.pendingUser = undefined;
        if (user === undefined) return this.out.bad('send USER first');
        return this.login(user, cmd.password, undefined);
      }
      case 'AUTH':
        if (cmd.mechanism !== 'PLAIN') return this.out.bad('unsupported SASL mechanism; use PLAIN');
        if (cmd.initialResponse === undefined) {
          this.saslPending = true;
          return this.out.reply(continuationLine());
        }
        return this.saslPlain(cmd.initialResponse);
    }
  }

  /** The line after `+ `: not a command but the base64 SASL response, or `*` to cancel. */
  async response(line: Buffer): Promise<void> {
    this.saslPending = false;
    let response: SaslResponse;
    try {
      response = parseSaslResponse(pop3.decodeLine(line));
    } catch (err) {
      if (!(err instanceof pop3.Pop3SyntaxError || err instanceof SaslError)) throw err;
      return this.out.bad(err.message);
    }
    if (response.cancel) return this.out.reply(errLine('authentication cancelled'));
    return this.saslPlain(response.base64);
  }

  private saslPlain(base64: string): Promise<void> {
    let creds: SaslPlainCredentials;
    try {
      creds = decodeSaslPlain(base64);
    } catch (err) {
      if (!(err instanceof SaslError)) throw err;
      return this.out.bad(err.message);
    }
    return this.login(creds.authcid, creds.password, creds.authzid === '' ? undefined : creds.authzid);
  }

  private gone: AbortSignal | undefined;

  /** Fires when the connection goes: a login still waiting for its check is dropped. */
  private get goneSignal(): AbortSignal {
    if (!this.gone) {
      const ac = new AbortController();
      void this.peer.closed.then(() => ac.abort());
      this.gone = ac.signal;
    }
    return this.gone;
  }

  private async login(user: string, password: string, authzid: string | undefined): Promise<void> {
    const req: Pop3LoginRequest = {
      user,
      password,
      ...(authzid !== undefined ? { authzid } : {}),
      remoteAddress: this.peer.remoteAddress,
      secure: this.peer.secure,
    };
    const certAccount = this.peer.certificateAccount;
    const fits = (account: string): boolean => certAccount === undefined || account.toLowerCase() === certAccount;
    const cached = await this.cachedLogin(req);
    if (cached && fits(cached.account)) return this.loggedInOk(cached);
    // A cached hit for another account than the certificate's: let go, and fail on the normal path.
    if (cached) await cached.maildrop.release();
    // The gate comes before the password is checked: a penalised address is answered without
    // a check, and checks from one address run one after the other.
    const admission = this.ctx.throttle ? await this.ctx.throttle.admit(this.peer.remoteAddress, this.goneSignal) : undefined;
    if (admission?.kind === 'abandoned') return;
    if (admission && admission.kind !== 'check') return this.notChecked(user, admission.kind, admission.kind === 'penalised' ? admission.waitMs : 0);
    let result: Pop3LoginResult;
    try {
      result = await this.ctx.backend.login(req);
    } catch (err) {
      this.ctx.log.error({ err, session: this.ctx.id }, 'pop3 backend login failed');
      this.out.count('errors', { kind: 'backend' });
      return this.out.reply(errLine('temporary failure, try again later', 'SYS/TEMP'));
    } finally {
      if (admission?.kind === 'check') admission.release();
    }
    if (result.ok && fits(result.account)) return this.loggedInOk(result);
    if (result.ok) {
      // Right password, wrong certificate: a login failure like any other (the maildrop is not opened).
      await result.maildrop.release();
      this.ctx.log.warn({ session: this.ctx.id, remote: this.peer.remoteAddress }, 'pop3 login refused: the TLS client certificate is of another account');
      result = { ok: false, reason: 'credentials' };
    }
    if (result.reason === 'unavailable') {
      this.out.count('logins', { result: 'unavailable' });
      return this.out.reply(errLine(result.message ?? 'mailbox temporarily unavailable', 'SYS/TEMP'));
    }
    this.failures++;
    this.out.count('logins', { result: 'failed' });
    this.ctx.log.info({ session: this.ctx.id, user, remote: this.peer.remoteAddress, failures: this.failures }, 'pop3 login failed');
    // Answering a failure at once would make guessing cheap; an address that keeps failing,
    // over any number of connections, waits longer (the shared throttle).
    const penalty = this.ctx.throttle?.failure(this.peer.remoteAddress) ?? 0;
    await this.waitBeforeAnswer(penalty);
    if (this.failures >= this.ctx.limits.maxAuthFailures) {
      return this.out.finish(errLine('too many failures, closing connection', 'AUTH'));
    }
    return this.out.reply(errLine(result.message ?? 'invalid user name or password', 'AUTH'));
  }

  private loggedInOk(result: Extract<Pop3LoginResult, { ok: true }>): Promise<void> {
    this.out.count('logins', { result: 'ok' });
    this.ctx.log.info({ session: this.ctx.id, account: result.account, remote: this.peer.remoteAddress }, 'pop3 login');
    return this.loggedIn(result.maildrop, result.account);
  }

  /**
   * A login the backend knows right without the full check (a login-cache hit: an HMAC, no
   * scrypt), so it need not queue behind the other logins from its address. A penalised
   * address gets no such shortcut: its logins go through the gate and wait out the penalty.
   * Only a success is taken from here; anything else (and a backend fault, which the normal
   * path reports) takes the normal path.
   */
  private async cachedLogin(req: Pop3LoginRequest): Promise<Extract<Pop3LoginResult, { ok: true }> | undefined> {
    const throttle = this.ctx.throttle;
    if (!throttle || !this.ctx.backend.loginCached || throttle.isPenalised(this.peer.remoteAddress)) return undefined;
    try {
      const result = await this.ctx.backend.loginCached(req);
      return result?.ok ? result : undefined;
    } catch {
      return undefined;
    }
  }

  /** A login the gate turned away: answered late and counted as a failure, but nothing was checked. */
  private async notChecked(user: string, why: 'penalised' | 'busy', waitMs: number): Promise<void> {
    this.failures++;
    this.out.count('logins', { result: why });
    // Debug only: a flood of these would be a flood of log lines; the metric counts them.
    this.ctx.log.debug({ session: this.ctx.id, user, remote: this.peer.remoteAddress, failures: this.failures, why }, 'pop3 login not checked');
    await this.waitBeforeAnswer(waitMs);
    if (this.failures >= this.ctx.limits.maxAuthFailures) {
      return this.out.finish(errLine('too many failures, closing connection', 'AUTH'));
    }
    const text = why === 'penalised' ? 'too many failed logins from your address; try again later' : 'too many logins at once; try again later';
    return this.out.reply(errLine(text, 'SYS/TEMP'));
  }

  /**
   * The wait ends early if the connection goes (client left, server shutting down): nobody
   * is left to answer, and a penalty must not hold the session open past shutdown.
   */
  private async waitBeforeAnswer(penalty: number): Promise<void> {
    const ac = new AbortController();
    await Promise.race([delay(Math.max(this.ctx.limits.authFailureDelayMs, penalty), undefined, { signal: ac.signal }).catch(() => undefined), this.peer.closed]);
    ac.abort();
  }
}

import { setTimeout as delay } from 'node:timers/promises';
import type { SecureContext } from 'node:tls';
import { errorMessage, type Logger, type Metrics } from '../core/index.js';
import { pop3 } from '../wire/index.js';
import { Pop3MessageGoneError, type Pop3Backend, type Pop3Message } from './backend.js';
import type { Pop3Connection } from './connection.js';
import type { Pop3Limits } from './options.js';
import { isLoopback } from './net-util.js';
import { MaildropView } from './maildrop-view.js';

const { okLine, errLine, multiline, continuationLine } = pop3;

/** RFC 1939 section 3: the session states. */
type State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

/** Counter names; documented with the server's other metrics in server.ts. */
export const METRIC = {
  logins: 'pop3_logins_total',
  retrieved: 'pop3_messages_retrieved_total',
  deleted: 'pop3_messages_deleted_total',
  errors: 'pop3_errors_total',
} as const;

/** Message bodies go out in pieces of this size, each waiting for the socket to drain. */
const WRITE_CHUNK = 64 * 1024;

export interface SessionContext {
  id: number;
  backend: Pop3Backend;
  hostname: string;
  mode: 'plain' | 'implicit';
  /** Present when TLS is possible: always for implicit, for plain only when STLS is offered. */
  tls: SecureContext | undefined;
  limits: Pop3Limits;
  maxBadCommands: number;
  log: Logger;
  metrics: Metrics | undefined;
  listener: string;
}

type Command = pop3.Pop3Command;
type InState<S extends Command['name']> = Extract<Command, { name: S }>;

/**
 * One POP3 conversation. Lines are handled strictly one after another, so pipelined commands
 * (RFC 2449 PIPELINING) are answered in order without further bookkeeping.
 *
 * Snapshot semantics: a session sees the maildrop as it was at login (the backend's
 * snapshot). Messages arriving later appear in the next session. There is no exclusive lock
 * as RFC 1939 suggests: two sessions may be open on one maildrop; when one of them removes a
 * message the other still lists it, and RETR/TOP of it answer `-ERR message N was removed by
 * another session`. Deletions happen only in the UPDATE state after QUIT; a connection that
 * ends any other way releases the maildrop and deletes nothing.
 */
export class Pop3Session {
  private state: State = 'AUTHORIZATION';
  private pendingUser: string | undefined;
  private saslPending = false;
  private authFailures = 0;
  private badCommands = 0;
  private commands = 0;
  private view: MaildropView | undefined;
  private account = '';
  private stopReason: 'idle' | 'shutdown' | undefined;
  private finished = false;
  /** Set by reply(); read for the one log line per command. */
  private lastOk = true;

  constructor(
    private readonly conn: Pop3Connection,
    private readonly ctx: SessionContext,
  ) {
    conn.onIdle = () => this.stop('idle');
  }

  /** Asks the session to end: at once when it waits for input, else after the current command. */
  stop(reason: 'idle' | 'shutdown'): void {
    this.stopReason ??= reason;
    this.conn.interrupt();
  }

  async run(): Promise<void> {
    try {
      if (this.ctx.mode === 'implicit') {
        if (!this.ctx.tls || !(await this.conn.startTls(this.ctx.tls))) return;
      } else {
        this.conn.readPlaintext();
      }
      await this.conn.write(okLine(`${this.ctx.hostname} POP3 ready`));
      for (;;) {
        const ev = await this.conn.next();
        if (ev === null || this.finished) break;
        await this.handle(ev);
        if (this.finished) break;
      }
      if (!this.finished && this.stopReason) {
        this.finish(this.stopReason === 'idle' ? errLine('idle timeout') : errLine('server shutting down', 'SYS/TEMP'));
      }
    } catch (err) {
      // A bug, not a client error: log it, tell the client something true, and close.
      this.ctx.log.error({ err, session: this.ctx.id }, 'pop3 session failed');
      this.count('errors', { kind: 'internal' });
      this.finish(errLine('internal error, closing connection', 'SYS/TEMP'));
    } finally {
      this.finish();
      await this.releaseMaildrop();
    }
  }

  // ---- dispatch ----

  private async handle(ev: pop3.LineEvent): Promise<void> {
    if (ev.kind === 'overflow') {
      this.saslPending = false;
      this.count('errors', { kind: 'line_too_long' });
      await this.bad('line too long');
      return;
    }
    if (++this.commands > this.ctx.limits.maxCommands) {
      this.count('errors', { kind: 'limit' });
      this.finish(errLine('too many commands, closing connection'));
      return;
    }
    const started = Date.now();
    if (this.saslPending) {
      this.saslPending = false;
      await this.saslContinuation(ev.line);
      this.logCommand({ cmd: 'AUTH (response)' }, started);
      return;
    }
    let cmd: Command;
    try {
      cmd = pop3.parseCommand(ev.line, this.ctx.limits.maxLineLength);
    } catch (err) {
      if (!(err instanceof pop3.Pop3SyntaxError)) throw err;
      this.count('errors', { kind: 'syntax' });
      this.ctx.log.debug({ session: this.ctx.id, reason: err.reason }, 'pop3 bad command');
      await this.bad(err.message);
      return;
    }
    // RFC 1939: PASS must immediately follow USER.
    if (cmd.name !== 'PASS') this.pendingUser = undefined;
    if (this.state === 'AUTHORIZATION') await this.authorization(cmd);
    else await this.transaction(cmd);
    this.logCommand(describe(cmd), started);
  }

  /** The one log line per command: never a password, SASL data or message content. */
  private logCommand(what: Record<string, string | number>, started: number): void {
    this.ctx.log.debug({ session: this.ctx.id, ...what, ok: this.lastOk, ms: Date.now() - started }, 'pop3 command');
  }

  private async authorization(cmd: Command): Promise<void> {
    switch (cmd.name) {
      case 'CAPA':
        return this.capa();
      case 'QUIT':
        return this.finish(okLine(`${this.ctx.hostname} POP3 server signing off`));
      case 'STLS':
        return this.stls();
      case 'USER':
        return this.user(cmd);
      case 'PASS':
        return this.pass(cmd);
      case 'AUTH':
        return this.auth(cmd);
      default:
        return this.bad(`${cmd.name} is not allowed before login`);
    }
  }

  private async transaction(cmd: Command): Promise<void> {
    switch (cmd.name) {
      case 'CAPA':
        return this.capa();
      case 'STAT': {
        const { count, size } = this.md.totals();
        return this.reply(okLine(`${count} ${size}`));
      }
      case 'LIST':
        return this.listing(cmd, (m) => String(m.size));
      case 'UIDL':
        return this.listing(cmd, (m) => m.uid);
      case 'RETR':
        return this.retr(cmd);
      case 'TOP':
        return this.top(cmd);
      case 'DELE':
        return this.dele(cmd);
      case 'RSET': {
        this.md.unmarkAll();
        const { count, size } = this.md.totals();
        return this.reply(okLine(`maildrop has ${count} messages (${size} octets)`));
      }
      case 'NOOP':
        return this.reply(okLine());
      case 'QUIT':
        return this.quit();
      case 'STLS':
      case 'USER':
      case 'PASS':
      case 'AUTH':
        return this.bad(`${cmd.name} is not allowed after login`);
    }
  }

  // ---- AUTHORIZATION state ----

  private get plaintextAuthAllowed(): boolean {
    if (this.conn.secure) return true;
    const policy = this.ctx.limits.allowPlaintextAuth;
    return policy === 'always' || (policy === 'loopback' && isLoopback(this.conn.remoteAddress));
  }

  private get stlsAvailable(): boolean {
    return this.ctx.mode === 'plain' && this.ctx.tls !== undefined && !this.conn.secure;
  }

  private capa(): Promise<void> {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.state === 'AUTHORIZATION') {
      // Only what works right now: a client must not be invited to send a password in clear.
      if (this.plaintextAuthAllowed) caps.push('USER', 'SASL PLAIN');
      if (this.stlsAvailable) caps.push('STLS');
    }
    caps.push('EXPIRE NEVER', 'IMPLEMENTATION Postamt');
    return this.reply(multiline(okLine('capability list follows'), caps));
  }

  private async stls(): Promise<void> {
    if (this.conn.secure) return this.bad('already using TLS');
    if (!this.stlsAvailable || !this.ctx.tls) return this.bad('STLS is not available here');
    this.lastOk = true;
    this.badCommands = 0;
    if (!(await this.conn.startTls(this.ctx.tls, okLine('begin TLS negotiation')))) {
      this.count('errors', { kind: 'tls' });
      this.finish();
      return;
    }
    // RFC 2595 section 4: forget anything learned before TLS.
    this.pendingUser = undefined;
  }

  private refusePlaintext(): Promise<void> {
    return this.bad('plaintext authentication is not allowed here; use STLS first', 'AUTH');
  }

  private user(cmd: InState<'USER'>): Promise<void> {
    if (!this.plaintextAuthAllowed) return this.refusePlaintext();
    this.pendingUser = cmd.user;
    // The same answer for every name: whether a mailbox exists is told by PASS, with a delay.
    return this.reply(okLine('send PASS'));
  }

  private pass(cmd: InState<'PASS'>): Promise<void> {
    if (!this.plaintextAuthAllowed) return this.refusePlaintext();
    const user = this.pendingUser;
    this.pendingUser = undefined;
    if (user === undefined) return this.bad('send USER first');
    return this.login(user, cmd.password, undefined);
  }

  private async auth(cmd: InState<'AUTH'>): Promise<void> {
    if (cmd.mechanism !== 'PLAIN') return this.bad('unsupported SASL mechanism; use PLAIN');
    if (!this.plaintextAuthAllowed) return this.refusePlaintext();
    if (cmd.initialResponse === undefined) {
      this.saslPending = true;
      return this.reply(continuationLine());
    }
    return this.saslPlain(cmd.initialResponse);
  }

  /** The line after `+ `: not a command but the base64 SASL response, or `*` to cancel. */
  private async saslContinuation(line: Buffer): Promise<void> {
    let response: pop3.SaslResponse;
    try {
      response = pop3.parseSaslResponse(pop3.decodeLine(line));
    } catch (err) {
      if (!(err instanceof pop3.Pop3SyntaxError)) throw err;
      return this.bad(err.message);
    }
    if (response.cancel) return this.reply(errLine('authentication cancelled'));
    return this.saslPlain(response.base64);
  }

  private saslPlain(base64: string): Promise<void> {
    let creds: pop3.SaslPlainCredentials;
    try {
      creds = pop3.decodeSaslPlain(base64);
    } catch (err) {
      if (!(err instanceof pop3.Pop3SyntaxError)) throw err;
      return this.bad(err.message);
    }
    return this.login(creds.authcid, creds.password, creds.authzid === '' ? undefined : creds.authzid);
  }

  private async login(user: string, password: string, authzid: string | undefined): Promise<void> {
    let result;
    try {
      result = await this.ctx.backend.login({
        user,
        password,
        ...(authzid !== undefined ? { authzid } : {}),
        remoteAddress: this.conn.remoteAddress,
        secure: this.conn.secure,
      });
    } catch (err) {
      this.ctx.log.error({ err, session: this.ctx.id }, 'pop3 backend login failed');
      this.count('errors', { kind: 'backend' });
      return this.reply(errLine('temporary failure, try again later', 'SYS/TEMP'));
    }
    if (result.ok) {
      this.view = new MaildropView(result.maildrop);
      this.account = result.account;
      this.state = 'TRANSACTION';
      this.authFailures = 0;
      this.count('logins', { result: 'ok' });
      this.ctx.log.info({ session: this.ctx.id, account: result.account, remote: this.conn.remoteAddress }, 'pop3 login');
      if (!this.conn.isOpen) return; // gone during login: run() releases the maildrop
      const { count, size } = this.md.totals();
      return this.reply(okLine(`${result.account} has ${count} messages (${size} octets)`));
    }
    if (result.reason === 'unavailable') {
      this.count('logins', { result: 'unavailable' });
      return this.reply(errLine(result.message ?? 'mailbox temporarily unavailable', 'SYS/TEMP'));
    }
    this.authFailures++;
    this.count('logins', { result: 'failed' });
    this.ctx.log.info({ session: this.ctx.id, user, remote: this.conn.remoteAddress, failures: this.authFailures }, 'pop3 login failed');
    // Slows a guesser down; answering a failure at once would make guessing cheap.
    await delay(this.ctx.limits.authFailureDelayMs);
    if (this.authFailures >= this.ctx.limits.maxAuthFailures) {
      this.lastOk = false;
      return this.finish(errLine('too many failures, closing connection', 'AUTH'));
    }
    return this.reply(errLine(result.message ?? 'invalid user name or password', 'AUTH'));
  }

  // ---- TRANSACTION state ----

  private get md(): MaildropView {
    if (!this.view) throw new Error('no maildrop outside TRANSACTION state');
    return this.view;
  }

  /** The 0-based index for a message number, or undefined after answering -ERR. */
  private async pick(msg: number): Promise<number | undefined> {
    const found = this.md.lookup(msg);
    if ('error' in found) {
      await this.reply(errLine(found.error));
      return undefined;
    }
    return found.index;
  }

  private async listing(cmd: InState<'LIST'> | InState<'UIDL'>, value: (m: Pop3Message) => string): Promise<void> {
    if (cmd.msg !== undefined) {
      const found = this.md.lookup(cmd.msg);
      return this.reply('error' in found ? errLine(found.error) : okLine(`${cmd.msg} ${value(found.message)}`));
    }
    const lines = this.md.visible().map(({ msg, message }) => `${msg} ${value(message)}`);
    const { count, size } = this.md.totals();
    const first = cmd.name === 'LIST' ? okLine(`${count} messages (${size} octets)`) : okLine(`${count} messages`);
    return this.reply(multiline(first, lines));
  }

  /** Fetches message content, answering -ERR itself when it cannot be had. */
  private async fetch(msg: number, get: () => Promise<Buffer>): Promise<Buffer | undefined> {
    try {
      return await get();
    } catch (err) {
      if (err instanceof Pop3MessageGoneError) {
        await this.reply(errLine(`message ${msg} was removed by another session`));
      } else {
        this.ctx.log.warn({ err: errorMessage(err), session: this.ctx.id, account: this.account, msg }, 'pop3 cannot read message');
        this.count('errors', { kind: 'backend' });
        await this.reply(errLine(`cannot read message ${msg} now, try again later`, 'SYS/TEMP'));
      }
      return undefined;
    }
  }

  private async retr(cmd: InState<'RETR'>): Promise<void> {
    const i = await this.pick(cmd.msg);
    if (i === undefined) return;
    const md = this.md.maildrop;
    const data = await this.fetch(cmd.msg, () => md.retrieve(i));
    if (!data) return;
    await this.sendBody(okLine(`${data.length} octets`), data);
    this.count('retrieved');
  }

  private async top(cmd: InState<'TOP'>): Promise<void> {
    const i = await this.pick(cmd.msg);
    if (i === undefined) return;
    const md = this.md.maildrop;
    const data = await this.fetch(cmd.msg, async () =>
      md.top ? md.top(i, cmd.lines) : pop3.extractTop(await md.retrieve(i), cmd.lines),
    );
    if (!data) return;
    await this.sendBody(okLine('top of message follows'), data);
  }

  /** A multi-line body, dot-stuffed piece by piece, each piece waiting for the socket. */
  private async sendBody(first: string, data: Buffer): Promise<void> {
    this.markOk();
    await this.conn.write(first);
    const stuffer = new pop3.DotStuffer();
    for (let off = 0; off < data.length && this.conn.isOpen; off += WRITE_CHUNK) {
      await this.conn.write(stuffer.push(data.subarray(off, off + WRITE_CHUNK)));
    }
    await this.conn.write(stuffer.finish());
  }

  private async dele(cmd: InState<'DELE'>): Promise<void> {
    const i = await this.pick(cmd.msg);
    if (i === undefined) return;
    this.md.markDeleted(i);
    return this.reply(okLine(`message ${cmd.msg} deleted`));
  }

  private async quit(): Promise<void> {
    this.state = 'UPDATE';
    const md = this.md.maildrop;
    const deleted = this.md.deletedIndexes();
    try {
      await md.commit(deleted);
    } catch (err) {
      this.ctx.log.error({ err, session: this.ctx.id, account: this.account }, 'pop3 commit failed');
      this.count('errors', { kind: 'backend' });
      this.lastOk = false;
      return this.finish(errLine('some deleted messages not removed', 'SYS/TEMP'));
    }
    this.count('deleted', {}, deleted.length);
    const left = md.messages.length - deleted.length;
    this.lastOk = true;
    this.finish(okLine(`${this.ctx.hostname} POP3 server signing off (${left} messages left)`));
  }

  // ---- answers and the end ----

  private markOk(): void {
    this.lastOk = true;
    this.badCommands = 0;
  }

  private reply(line: string): Promise<void> {
    if (line.startsWith('+')) this.markOk();
    else this.lastOk = false;
    return this.conn.write(line);
  }

  /** A command the client should not have sent; too many in a row end the connection. */
  private async bad(text: string, code?: pop3.Pop3ResponseCode): Promise<void> {
    this.lastOk = false;
    await this.conn.write(errLine(text, code));
    if (++this.badCommands >= this.ctx.maxBadCommands) {
      this.count('errors', { kind: 'limit' });
      this.finish(errLine('too many bad commands, closing connection'));
    }
  }

  private finish(finalLine?: string): void {
    if (this.finished) {
      return;
    }
    this.finished = true;
    this.conn.end(finalLine);
  }

  private async releaseMaildrop(): Promise<void> {
    const md = this.view?.maildrop;
    this.view = undefined;
    if (!md) return;
    try {
      await md.release();
    } catch (err) {
      this.ctx.log.warn({ err: errorMessage(err), session: this.ctx.id }, 'pop3 maildrop release failed');
    }
  }

  private count(what: keyof typeof METRIC, labels: Record<string, string> = {}, by = 1): void {
    this.ctx.metrics?.inc(METRIC[what], { listener: this.ctx.listener, ...labels }, by);
  }
}

/** What a command may show in a log: never a password or SASL data. */
function describe(cmd: Command): Record<string, string | number> {
  switch (cmd.name) {
    case 'USER':
      return { cmd: cmd.name, user: cmd.user };
    case 'AUTH':
      return { cmd: cmd.name, mechanism: cmd.mechanism };
    case 'LIST':
    case 'UIDL':
      return cmd.msg === undefined ? { cmd: cmd.name } : { cmd: cmd.name, msg: cmd.msg };
    case 'RETR':
    case 'DELE':
      return { cmd: cmd.name, msg: cmd.msg };
    case 'TOP':
      return { cmd: cmd.name, msg: cmd.msg, lines: cmd.lines };
    default:
      return { cmd: cmd.name };
  }
}

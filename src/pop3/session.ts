import { errorMessage } from '../core/index.js';
import { pop3 } from '../wire/index.js';
import type { Pop3Maildrop } from './backend.js';
import type { Pop3Connection } from './connection.js';
import { METRIC, type SessionContext, type SessionOutput } from './context.js';
import { Authorization } from './authorization.js';
import { TransactionState } from './transaction.js';
import { MaildropView } from './maildrop-view.js';

const { okLine, errLine, multiline } = pop3;

/** Message bodies go out in pieces of this size, each waiting for the socket to drain. */
const WRITE_CHUNK = 64 * 1024;

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
  private readonly auth: Authorization;
  /** Set at login: from then on the session is in the TRANSACTION state. */
  private transaction: TransactionState | undefined;
  private maildrop: Pop3Maildrop | undefined;
  private badCommands = 0;
  private commands = 0;
  private stopReason: 'idle' | 'shutdown' | undefined;
  private finished = false;
  /** Whether the last answer was positive; for the one log line per command. */
  private lastOk = true;
  private readonly out: SessionOutput;
  /** Whether the per-command log line is written at all (the level is fixed for the process). */
  private readonly debug: boolean;

  constructor(
    private readonly conn: Pop3Connection,
    private readonly ctx: SessionContext,
  ) {
    conn.onIdle = () => this.stop('idle');
    this.debug = ctx.log.isLevelEnabled('debug');
    this.out = {
      reply: (line) => this.reply(line),
      bad: (text, code) => this.bad(text, code),
      body: (first, data) => this.body(first, data),
      bodyStream: (first, source, about) => this.bodyStream(first, source, about),
      finish: (line) => this.finish(line),
      count: (what, labels = {}, by = 1) => this.ctx.metrics?.inc(METRIC[what], { listener: this.ctx.listener, ...labels }, by),
    };
    this.auth = new Authorization(ctx, conn, this.out, (md, account) => this.loggedIn(md, account));
  }

  /** Asks the session to end: at once when it waits for input, else after the current command. */
  stop(reason: 'idle' | 'shutdown'): void {
    this.stopReason ??= reason;
    this.conn.interrupt();
  }

  async run(): Promise<void> {
    try {
      this.conn.startReading();
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
      this.out.count('errors', { kind: 'internal' });
      this.finish(errLine('internal error, closing connection', 'SYS/TEMP'));
    } finally {
      this.finish();
      await this.release();
    }
  }

  private async handle(ev: pop3.LineEvent): Promise<void> {
    if (ev.kind === 'overflow') {
      this.auth.interrupted('overflow');
      this.out.count('errors', { kind: 'line_too_long' });
      return this.bad('line too long');
    }
    if (++this.commands > this.ctx.limits.maxCommands) {
      this.out.count('errors', { kind: 'limit' });
      return this.finish(errLine('too many commands, closing connection'));
    }
    const started = Date.now();
    if (this.auth.awaitingResponse) {
      await this.auth.response(ev.line);
      return this.logCommand({ cmd: 'AUTH (response)' }, started);
    }
    let cmd: pop3.Pop3Command;
    try {
      cmd = pop3.parseCommand(ev.line, this.ctx.limits.maxLineLength);
    } catch (err) {
      if (!(err instanceof pop3.Pop3SyntaxError)) throw err;
      this.auth.interrupted('invalid');
      this.out.count('errors', { kind: 'syntax' });
      await this.bad(err.message);
      return this.logCommand({ cmd: 'invalid', reason: err.reason }, started);
    }
    this.auth.interrupted(cmd.name);
    await this.dispatch(cmd);
    if (this.debug) this.logCommand(describe(cmd), started);
  }

  private async dispatch(cmd: pop3.Pop3Command): Promise<void> {
    const loggedIn = this.transaction !== undefined;
    switch (cmd.name) {
      case 'CAPA':
        return this.capa();
      case 'STLS':
        return loggedIn ? this.bad('STLS is not allowed after login') : this.stls();
      case 'USER':
      case 'PASS':
      case 'AUTH':
        return loggedIn ? this.bad(`${cmd.name} is not allowed after login`) : this.auth.handle(cmd);
      case 'QUIT':
        if (!this.transaction) return this.finish(okLine(`${this.ctx.hostname} POP3 server signing off`));
        return this.transaction.handle(cmd);
      default:
        return this.transaction ? this.transaction.handle(cmd) : this.bad(`${cmd.name} is not allowed before login`);
    }
  }

  /** The one log line per command: never a password, SASL data or message content. */
  private logCommand(what: Record<string, string | number>, started: number): void {
    if (!this.debug) return;
    this.ctx.log.debug({ session: this.ctx.id, ...what, ok: this.lastOk, ms: Date.now() - started }, 'pop3 command');
  }

  private get stlsAvailable(): boolean {
    return this.ctx.tlsMode === 'starttls' && this.ctx.tls !== undefined && !this.conn.secure;
  }

  private capa(): Promise<void> {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (!this.transaction) {
      // Only what works right now: a client must not be invited to send a password in clear.
      if (this.auth.allowed) caps.push('USER', 'SASL PLAIN');
      if (this.stlsAvailable) caps.push('STLS');
    }
    caps.push('EXPIRE NEVER', 'IMPLEMENTATION Postamt');
    return this.reply(multiline(okLine('capability list follows'), caps));
  }

  private async stls(): Promise<void> {
    if (this.conn.secure) return this.bad('already using TLS');
    if (!this.stlsAvailable || !this.ctx.tls) return this.bad('STLS is not available here');
    this.markOk();
    const failed = await this.conn.startTls(this.ctx.tls, okLine('begin TLS negotiation'));
    if (failed !== undefined) {
      this.ctx.tlsFailed(this.conn.remoteAddress, failed);
      return this.finish();
    }
    this.auth.forget();
  }

  private async loggedIn(maildrop: Pop3Maildrop, account: string): Promise<void> {
    this.maildrop = maildrop;
    const view = new MaildropView(maildrop);
    this.transaction = new TransactionState(this.ctx, view, account, this.out);
    if (!this.conn.isOpen) return; // gone during login: run() releases the maildrop
    const { count, size } = view.totals();
    return this.reply(okLine(`${account} has ${count} messages (${size} octets)`));
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

  private async bad(text: string, code?: pop3.Pop3ResponseCode): Promise<void> {
    this.lastOk = false;
    await this.conn.write(errLine(text, code));
    if (++this.badCommands >= this.ctx.maxBadCommands) {
      this.out.count('errors', { kind: 'limit' });
      this.finish(errLine('too many bad commands, closing connection'));
    }
  }

  /** A multi-line body, dot-stuffed piece by piece, each piece waiting for the socket. */
  private async body(first: string, data: Buffer): Promise<void> {
    this.markOk();
    const stuffer = new pop3.DotStuffer();
    if (data.length <= WRITE_CHUNK) {
      // One buffer, one system call per response: separate small writes meet Nagle and delayed
      // ACKs, and a corked writev of three pieces cost more than copying them into one.
      const body = stuffer.push(data);
      const end = stuffer.finish();
      const out = Buffer.allocUnsafe(first.length + body.length + end.length);
      const at = out.write(first, 'latin1');
      body.copy(out, at);
      end.copy(out, at + body.length);
      await this.conn.write(out);
      return;
    }
    await this.conn.write(first);
    for (let off = 0; off < data.length && this.conn.isOpen; off += WRITE_CHUNK) {
      await this.conn.write(stuffer.push(data.subarray(off, off + WRITE_CHUNK)));
    }
    await this.conn.write(stuffer.finish());
  }

  private async bodyStream(first: string, source: AsyncIterable<Uint8Array>, about: Record<string, string | number>): Promise<void> {
    this.markOk();
    await this.conn.write(first);
    try {
      // Leaving the loop early (the client went away) returns the generator, which destroys
      // the source: no further chunk is read.
      for await (const piece of pop3.dotStuffStream(source)) {
        if (!this.conn.isOpen) break;
        await this.conn.write(piece);
      }
    } catch (err) {
      this.lastOk = false;
      this.ctx.log.warn({ err: errorMessage(err), session: this.ctx.id, ...about }, 'pop3 message read failed mid-answer, closing connection');
      this.out.count('errors', { kind: 'backend' });
      this.finished = true;
      this.conn.destroy();
    }
  }

  private finish(finalLine?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (finalLine !== undefined) this.lastOk = finalLine.startsWith('+');
    this.conn.end(finalLine);
  }

  private async release(): Promise<void> {
    const md = this.maildrop;
    this.maildrop = undefined;
    if (!md) return;
    try {
      await md.release();
    } catch (err) {
      this.ctx.log.warn({ err, session: this.ctx.id }, 'pop3 maildrop release failed');
    }
  }
}

/** What a command may show in a log: never a password or SASL data. */
function describe(cmd: pop3.Pop3Command): Record<string, string | number> {
  switch (cmd.name) {
    case 'USER':
      return { cmd: cmd.name, user: cmd.user };
    case 'AUTH':
      return { cmd: cmd.name, mechanism: cmd.mechanism };
    case 'LIST':
    case 'UIDL':
      return cmd.msg === undefined ? { cmd: cmd.name } : { cmd: cmd.name, msgno: cmd.msg };
    case 'RETR':
    case 'DELE':
      return { cmd: cmd.name, msgno: cmd.msg };
    case 'TOP':
      return { cmd: cmd.name, msgno: cmd.msg, lines: cmd.lines };
    default:
      return { cmd: cmd.name };
  }
}

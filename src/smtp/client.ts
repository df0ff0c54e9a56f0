import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { bindClientSocket, openClientSocket, upgradeClientSocket, ClientSocketError, type ClientSocketHandlers, type ClientSocketOptions } from '../core/index.js';
import { encodeSaslLogin, encodeSaslPlain, SaslError } from '../wire/index.js';
import { DataSectionEncoder, encodeDataSection, formatSmtpReply, SmtpReplyError, SmtpReplyReader, type SmtpClientReply } from '../wire/smtp/index.js';

/**
 * A small SMTP client (RFC 5321, PIPELINING from RFC 2920, AUTH PLAIN/LOGIN from RFC 4954,
 * STARTTLS from RFC 3207), for the client module's upstream sessions to the mail service and
 * the service's relay to other providers. It exists so the
 * message goes out as whole buffers through `encodeDataSection` (line ends and dots handled
 * a line at a time) instead of a byte-by-byte transform stream. Replies are bounded
 * (wire/smtp SmtpReplyReader) and every wait has a timeout, so a stalled or hostile server
 * costs a clear error, never a hang.
 *
 * `tls`: implicit: TLS from the first byte (port 465); starttls: plain greeting, then STARTTLS —
 * required: a server that does not offer it gets nothing in clear; none: loopback only.
 */
export interface SmtpClientOptions extends ClientSocketOptions {
  /** Our name in EHLO. */
  clientName: string;
  /** Longest wait for connecting, the TLS handshake and each reply (default 30 s). */
  timeoutMs?: number;
  /** Longest wait for the reply to the end of the data (the server stores the message first). */
  dataTimeoutMs?: number;
}

export type SmtpClientErrorKind = 'network' | 'timeout' | 'tls' | 'protocol' | 'rejected';

export class SmtpClientError extends Error {
  constructor(
    readonly kind: SmtpClientErrorKind,
    message: string,
    /** The server's reply, for kind `rejected`. */
    readonly reply?: SmtpClientReply,
    /** When every recipient was refused: each one's reply (the relay answers for each). */
    readonly rejectedRecipients?: SmtpSendResult['rejected'],
  ) {
    super(message);
    this.name = 'SmtpClientError';
  }
}

/**
 * A message too large to hold in memory: its size (for SIZE=) and its bytes, opened anew for
 * each transaction (a relay may try several hosts). Written as the socket drains.
 */
export interface StreamedMessage {
  size: number;
  open(): Promise<AsyncIterable<Uint8Array>>;
}

export interface SmtpSendResult {
  accepted: string[];
  rejected: Array<{ address: string; reply: SmtpClientReply }>;
  /** The server's answer to the end of the data. */
  reply: SmtpClientReply;
}

interface Waiter {
  resolve(r: SmtpClientReply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** How much of a streamed message may wait in the socket before the next chunk is read. */
const STREAM_BUFFER_BYTES = 1024 * 1024;

export class SmtpClient {
  private readonly reader = new SmtpReplyReader();
  private readonly replies: SmtpClientReply[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;
  private readonly timeoutMs: number;
  private readonly dataTimeoutMs: number;
  private capabilities = new Map<string, string>();
  /** Replies owed by the server for what was sent; more than that (bar one 421) is a protocol error. */
  private owed = 1; // the greeting

  private socket: Socket | TLSSocket;
  private readonly handlers: ClientSocketHandlers = {
    encoding: 'latin1',
    data: (s: string) => this.receive(s),
    error: (err: Error) => this.fail(new SmtpClientError('network', `connection to ${this.opts.host}:${this.opts.port} failed: ${err.message}`)),
    close: () => this.fail(new SmtpClientError('network', `connection to ${this.opts.host}:${this.opts.port} closed`)),
  };

  private constructor(
    socket: Socket | TLSSocket,
    private readonly opts: SmtpClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.dataTimeoutMs = opts.dataTimeoutMs ?? this.timeoutMs * 4;
    this.socket = socket;
    bindClientSocket(socket, this.handlers);
  }

  /** Connects, reads the greeting and says EHLO (with STARTTLS: upgrades and says EHLO again). */
  static async connect(opts: SmtpClientOptions): Promise<SmtpClient> {
    const socket = await openClientSocket(opts).catch(fromSocketError);
    const client = new SmtpClient(socket, opts);
    try {
      expect(await client.read(), 220, 'greeting');
      if (/[\s<>]/.test(opts.clientName) || opts.clientName === '') throw new SmtpClientError('protocol', `not a usable EHLO name: ${JSON.stringify(opts.clientName)}`);
      await client.ehlo();
      if (opts.tls === 'starttls') {
        await client.startTls();
        // RFC 3207 4.2: what the server said before TLS is forgotten, it is asked again.
        await client.ehlo();
      }
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Whether the session runs over TLS (implicit or after STARTTLS). */
  get encrypted(): boolean {
    return 'encrypted' in this.socket && this.socket.encrypted === true;
  }


  private async ehlo(): Promise<void> {
    this.write(`EHLO ${this.opts.clientName}\r\n`);
    const ehlo = expect(await this.read(), 250, 'EHLO');
    this.capabilities = new Map();
    for (const line of ehlo.lines.slice(1)) {
      const [keyword, ...rest] = line.trim().split(/\s+/);
      if (keyword) this.capabilities.set(keyword.toUpperCase(), rest.join(' ').toUpperCase());
    }
  }

  /**
   * STARTTLS, required: without it offered and accepted nothing more is said (never plain by
   * default). The certificate is verified like an implicit-TLS one (core/client-socket).
   */
  private async startTls(): Promise<void> {
    const where = `${this.opts.host}:${this.opts.port}`;
    if (!this.capabilities.has('STARTTLS')) throw new SmtpClientError('tls', `${where} does not offer STARTTLS; nothing is sent in clear`);
    this.write('STARTTLS\r\n');
    const reply = await this.read();
    if (reply.code !== 220) throw new SmtpClientError('tls', `${where} refused STARTTLS: ${formatSmtpReply(reply)}`, reply);
    // Bytes after the 220 would be read as if they came over TLS (the CVE-2011-0411 injection);
    // a whole reply among them has already failed the session as one nobody asked for.
    if (this.failure || this.reader.holding || this.replies.length > 0) throw new SmtpClientError('protocol', `${where} sent data after its STARTTLS reply`);
    this.socket = await upgradeClientSocket(this.socket, { ...this.opts, timeoutMs: this.timeoutMs }, this.handlers).catch(fromSocketError);
  }

  /** Whether the session can take another command. */
  get usable(): boolean {
    return this.failure === null;
  }

  /** AUTH PLAIN, or AUTH LOGIN when the server offers only that. A refusal is kind `rejected`. */
  async login(user: string, password: string): Promise<void> {
    const methods = (this.capabilities.get('AUTH') ?? '').split(' ');
    if (methods.includes('PLAIN')) {
      this.write(`AUTH PLAIN ${saslPlain(user, password)}\r\n`);
    } else if (methods.includes('LOGIN')) {
      this.write('AUTH LOGIN\r\n');
      expect(await this.read(), 334, 'AUTH LOGIN');
      this.write(`${encodeSaslLogin(user)}\r\n`);
      expect(await this.read(), 334, 'AUTH LOGIN user name');
      this.write(`${encodeSaslLogin(password)}\r\n`);
    } else {
      throw new SmtpClientError('protocol', `${this.opts.host}:${this.opts.port} offers neither AUTH PLAIN nor AUTH LOGIN`);
    }
    expect(await this.read(), 235, 'AUTH');
  }

  /**
   * One mail transaction. Resolves once the server accepted the data, with the recipients it
   * refused; rejects with kind `rejected` (and the server's reply) when it refused the sender,
   * every recipient, or the data, and with another kind when the session broke.
   * `cleanFrom`: where the message is already in SMTP's line form (see encodeDataSection).
   * `notify`: RFC 3461 NOTIFY= per recipient, sent where the server offers DSN (RFC 3461 4.1:
   * a server without it is not given the parameter).
   */
  async send(from: string, to: readonly string[], message: Uint8Array | StreamedMessage, cleanFrom?: number, notify?: ReadonlyMap<string, readonly string[]>): Promise<SmtpSendResult> {
    if (this.failure) throw this.failure;
    for (const a of [from, ...to]) {
      if (/[\s<>]/.test(a)) throw new SmtpClientError('protocol', `not a usable address: ${JSON.stringify(a.slice(0, 80))}`);
    }
    if (to.length === 0) throw new SmtpClientError('protocol', 'no recipients');
    const streamed = !(message instanceof Uint8Array);
    const size = this.capabilities.has('SIZE') ? ` SIZE=${streamed ? message.size : message.byteLength}` : '';
    // Relayed mail may carry 8-bit text: declared where the server takes it (RFC 6152).
    const body = this.capabilities.has('8BITMIME') ? ' BODY=8BITMIME' : '';
    const dsn = this.capabilities.has('DSN');
    const commands = [`MAIL FROM:<${from}>${size}${body}\r\n`, ...to.map((a) => {
      const n = dsn ? (notify?.get(a) ?? notify?.get(a.toLowerCase())) : undefined;
      return `RCPT TO:<${a}>${n ? ` NOTIFY=${n.join(',')}` : ''}\r\n`;
    }), 'DATA\r\n'];
    const replies: SmtpClientReply[] = [];
    if (this.capabilities.has('PIPELINING')) {
      this.write(commands.join(''), commands.length);
      for (let i = 0; i < commands.length; i++) replies.push(await this.read());
    } else {
      // One at a time, stopping where the transaction cannot go on.
      for (let i = 0; i < commands.length; i++) {
        this.write(commands[i]!);
        const r = await this.read();
        replies.push(r);
        if (i === 0 && r.code !== 250) break;
        if (i === to.length && !replies.slice(1).some((x) => x.code === 250 || x.code === 251)) break;
      }
    }
    const mail = replies[0]!;
    const rcpt = replies.slice(1, 1 + to.length);
    const data = replies[1 + to.length];
    const accepted = to.filter((_, i) => rcpt[i] && (rcpt[i]!.code === 250 || rcpt[i]!.code === 251));
    const rejected = to.flatMap((address, i) => (rcpt[i] && rcpt[i]!.code !== 250 && rcpt[i]!.code !== 251 ? [{ address, reply: rcpt[i]! }] : []));
    const allRefused = mail.code === 250 && accepted.length === 0;
    const refusal = mail.code !== 250 ? mail : allRefused ? rejected[0]!.reply : data && data.code !== 354 ? data : null;
    if (refusal) {
      if (data?.code === 354) {
        // A server that invites data for a transaction that cannot happen: leave rather than send.
        this.close();
      } else await this.reset();
      throw new SmtpClientError('rejected', `${this.opts.host}:${this.opts.port} refused the message: ${formatSmtpReply(refusal)}`, refusal, allRefused ? rejected : undefined);
    }
    if (streamed) await this.writeStreamed(message);
    else {
      const parts = encodeDataSection(message, cleanFrom);
      this.owed++;
      this.socket.cork();
      for (const p of parts) this.socket.write(p);
      this.socket.uncork();
    }
    const final = await this.read(this.dataTimeoutMs);
    if (final.code !== 250) throw new SmtpClientError('rejected', `${this.opts.host}:${this.opts.port} refused the message: ${formatSmtpReply(final)}`, final);
    return { accepted, rejected, reply: final };
  }

  /**
   * The data of a streamed message, each chunk encoded as it comes and written as the socket
   * drains; a peer that takes nothing for dataTimeoutMs is given up. A broken session ends the
   * loop, which closes the source.
   */
  private async writeStreamed(message: StreamedMessage): Promise<void> {
    const encoder = new DataSectionEncoder();
    // Owed before the first byte: a peer may answer (and close) before the data is through.
    this.owed++;
    try {
      for await (const chunk of await message.open()) {
        if (this.failure) throw this.failure;
        for (const p of encoder.push(chunk)) this.socket.write(p);
        // Waiting at the socket's own mark (16 KiB) would cost a round trip per chunk read.
        if (this.socket.writableLength >= STREAM_BUFFER_BYTES) await this.drained();
      }
    } catch (err) {
      // Mid-data the session cannot be reset (RSET would be data): a source that failed ends it.
      if (!this.failure) this.fail(new SmtpClientError('network', `the message could not be read to its end: ${err instanceof Error ? err.message : String(err)}`));
      throw this.failure;
    }
    if (this.failure) throw this.failure;
    for (const p of encoder.finish()) this.socket.write(p);
  }

  private drained(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        socket.off('drain', done);
        socket.off('close', done);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      const timer = setTimeout(() => {
        this.fail(new SmtpClientError('timeout', `${this.opts.host}:${this.opts.port} took no data for ${this.dataTimeoutMs} ms`));
        done();
      }, this.dataTimeoutMs);
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** QUIT, then close; a server that does not answer is left anyway. */
  async quit(): Promise<void> {
    if (this.failure) return;
    try {
      this.write('QUIT\r\n');
      await this.read();
    } catch {
      // Leaving regardless.
    } finally {
      this.close();
    }
  }

  close(): void {
    this.fail(new SmtpClientError('network', 'connection closed by client'));
  }

  private async reset(): Promise<void> {
    try {
      this.write('RSET\r\n');
      expect(await this.read(), 250, 'RSET');
    } catch {
      this.close();
    }
  }

  /** Writes `replies` commands' worth of text. */
  private write(s: string, replies = 1): void {
    if (this.failure) throw this.failure;
    this.owed += replies;
    this.socket.write(s, 'utf8');
  }

  /** The next reply, in order; pipelined replies that arrived early are waiting in `replies`. */
  private read(timeoutMs = this.timeoutMs): Promise<SmtpClientReply> {
    const early = this.replies.shift();
    if (early) return Promise.resolve(early);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new SmtpClientError('timeout', `no answer from ${this.opts.host}:${this.opts.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
  }

  private receive(s: string): void {
    this.reader.push(s);
    for (;;) {
      let reply: SmtpClientReply | null;
      try {
        reply = this.reader.next();
      } catch (err) {
        if (!(err instanceof SmtpReplyError)) throw err;
        return this.fail(new SmtpClientError('protocol', err.message));
      }
      if (!reply || !this.deliver(reply)) return;
    }
  }

  /** One reply to whoever waits for it; false once the connection had to be given up. */
  private deliver(reply: SmtpClientReply): boolean {
    if (--this.owed < 0 && !(this.owed === -1 && reply.code === 421)) {
      this.fail(new SmtpClientError('protocol', 'server sent a reply nobody asked for'));
      return false;
    }
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(reply);
      return true;
    }
    // Pipelined replies that came before they were asked for (or a 421 before a close).
    this.replies.push(reply);
    return true;
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
    this.socket.destroy();
  }
}

function expect(reply: SmtpClientReply, code: number, what: string): SmtpClientReply {
  if (reply.code !== code) throw new SmtpClientError('rejected', `${what} refused: ${formatSmtpReply(reply)}`, reply);
  return reply;
}

function fromSocketError(err: unknown): never {
  if (err instanceof ClientSocketError) throw new SmtpClientError(err.kind, err.message);
  throw err;
}

function saslPlain(user: string, password: string): string {
  try {
    return encodeSaslPlain({ authcid: user, password });
  } catch (err) {
    if (err instanceof SaslError) throw new SmtpClientError('protocol', err.message);
    throw err;
  }
}

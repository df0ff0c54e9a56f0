import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { bindClientSocket, openClientSocket, upgradeClientSocket, ClientSocketError, type ClientSocketHandlers, type ClientSocketOptions } from '../core/index.js';
import { pop3 } from '../wire/index.js';

/**
 * A POP3 client (RFC 1939, STLS from RFC 2595), for the client module's upstream sessions
 * and for tests. One command at a time; responses are byte-exact (CRLF kept, dot-stuffing
 * removed), bounded in size (wire/pop3 Pop3ResponseReader), and every wait has a timeout —
 * connect, the STLS handshake, each response —, so a stalled or hostile server costs a clear
 * error, never a hang or unbounded memory.
 *
 * `tls`: implicit: TLS from the first byte (pop3s); starttls: STLS before login; none: loopback
 * tests only.
 */
export interface Pop3ClientOptions extends ClientSocketOptions {
  /** Longest wait for connect, the TLS handshake and each response (default 30 s). */
  timeoutMs?: number;
  /** Largest multi-line response accepted (a message), in bytes. */
  maxResponseSize?: number;
}

export type Pop3ClientErrorKind = 'network' | 'timeout' | 'tls' | 'protocol' | 'rejected' | 'too-large';

export class Pop3ClientError extends Error {
  constructor(
    readonly kind: Pop3ClientErrorKind,
    message: string,
    /** The server's text after -ERR, for kind `rejected`. */
    readonly serverText?: string,
  ) {
    super(message);
    this.name = 'Pop3ClientError';
  }
}

interface Pending {
  multiline: boolean;
  resolve(v: { line: string; body?: Buffer }): void;
  reject(err: Error): void;
}

export class Pop3Client {
  private readonly reader: pop3.Pop3ResponseReader;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly timeoutMs: number;
  private readonly handlers: ClientSocketHandlers = {
    data: (chunk: Buffer) => {
      this.reader.push(chunk);
      this.parse();
    },
    error: (err: Error) => this.fail(new Pop3ClientError('network', `connection to ${this.opts.host}:${this.opts.port} failed: ${err.message}`)),
    close: () => this.fail(new Pop3ClientError('network', `connection to ${this.opts.host}:${this.opts.port} closed`)),
  };

  private constructor(
    private socket: Socket | TLSSocket,
    private readonly opts: Pop3ClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.reader = new pop3.Pop3ResponseReader({ maxResponseSize: opts.maxResponseSize ?? 64 * 1024 * 1024 });
    bindClientSocket(socket, this.handlers);
  }

  /** Connects, reads the greeting and, for `starttls`, upgrades the connection. */
  static async connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const socket = await openClientSocket(opts).catch(fromSocketError);
    const client = new Pop3Client(socket, opts);
    try {
      await client.expect(false);
      if (opts.tls === 'starttls') await client.startTls();
      return client;
    } catch (err) {
      client.close();
      throw err;
    }
  }

  get secure(): boolean {
    return 'encrypted' in this.socket && this.socket.encrypted === true;
  }

  async login(user: string, password: string): Promise<void> {
    if (/[\r\n]/.test(user) || /[\r\n]/.test(password)) throw new Pop3ClientError('protocol', 'user name and password must not contain line breaks');
    await this.command(`USER ${user}`, false);
    await this.command(`PASS ${password}`, false);
  }

  async stat(): Promise<{ count: number; size: number }> {
    const { line } = await this.command('STAT', false);
    return decoded(() => pop3.parseStat(line));
  }

  /** LIST: message number → size as the server counts it. */
  async list(): Promise<Array<{ n: number; size: number }>> {
    const { body } = await this.command('LIST', true);
    return decoded(() => pop3.parseScanListing(body!));
  }

  async uidl(): Promise<Array<{ n: number; uid: string }>> {
    const { body } = await this.command('UIDL', true);
    return decoded(() => pop3.parseUidListing(body!));
  }

  async retr(n: number): Promise<Buffer> {
    return (await this.command(`RETR ${int(n)}`, true)).body!;
  }

  async top(n: number, lines: number): Promise<Buffer> {
    return (await this.command(`TOP ${int(n)} ${int(lines)}`, true)).body!;
  }

  async dele(n: number): Promise<void> {
    await this.command(`DELE ${int(n)}`, false);
  }

  async noop(): Promise<void> {
    await this.command('NOOP', false);
  }

  /** QUIT (the server's UPDATE state: marked messages are removed), then close. */
  async quit(): Promise<void> {
    try {
      await this.command('QUIT', false);
    } finally {
      this.close();
    }
  }

  close(): void {
    this.fail(new Pop3ClientError('network', 'connection closed by client'));
    this.socket.destroy();
  }

  /** STLS, then the handshake (core/client-socket: verified, within timeoutMs). */
  private async startTls(): Promise<void> {
    await this.command('STLS', false);
    // Bytes before the handshake would be read as if they came over TLS (RFC 2595 section 4).
    if (this.reader.buffered > 0) throw new Pop3ClientError('protocol', 'server sent data after +OK to STLS');
    this.socket = await upgradeClientSocket(this.socket, { ...this.opts, timeoutMs: this.timeoutMs }, this.handlers).catch(fromSocketError);
  }

  /** Commands run strictly one after another; a failed connection fails every later one. */
  private command(line: string, multiline: boolean): Promise<{ line: string; body?: Buffer }> {
    const run = async () => {
      if (this.failure) throw this.failure;
      this.socket.write(line + '\r\n');
      return this.expect(multiline);
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private expect(multiline: boolean): Promise<{ line: string; body?: Buffer }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { multiline, resolve, reject };
      this.timer = setTimeout(() => {
        this.fail(new Pop3ClientError('timeout', `no answer from ${this.opts.host}:${this.opts.port} within ${this.timeoutMs} ms`));
        this.socket.destroy();
      }, this.timeoutMs);
      this.parse();
    });
  }


  private parse(): void {
    const p = this.pending;
    try {
      if (!p) return this.reader.checkUnsolicited();
      const r = this.reader.next(p.multiline);
      if (!r) return;
      if (r.ok) return this.settle(null, { line: r.status, ...(r.body ? { body: r.body } : {}) });
      this.settle(new Pop3ClientError('rejected', `server answered: ${r.status.slice(0, 200)}`, r.text));
    } catch (err) {
      if (!(err instanceof pop3.Pop3ResponseError)) throw err;
      const e = new Pop3ClientError(err.reason === 'too-large' ? 'too-large' : 'protocol', err.message);
      if (p) this.settle(e);
      else this.fail(e);
    }
  }

  private settle(err: Error | null, value?: { line: string; body?: Buffer }): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (err) {
      p.reject(err);
      // After a framing error the stream position is unknown: the connection is unusable.
      if (!(err instanceof Pop3ClientError && err.kind === 'rejected')) this.fail(err);
    } else p.resolve(value!);
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.settle(err);
    if (err.message !== 'connection closed by client') this.socket.destroy();
  }
}

function int(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Pop3ClientError('protocol', `not a message number: ${n}`);
  return String(n);
}

/** A listing the codec could not read is a protocol error of this client. */
function decoded<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof pop3.Pop3ResponseError) throw new Pop3ClientError('protocol', err.message);
    throw err;
  }
}

function fromSocketError(err: unknown): never {
  if (err instanceof ClientSocketError) throw new Pop3ClientError(err.kind, err.message);
  throw err;
}

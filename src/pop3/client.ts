import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { openClientSocket, clientTlsOptions, ClientSocketError, type TlsMode } from '../core/index.js';

/**
 * A POP3 client (RFC 1939, STLS from RFC 2595), for the client module's upstream sessions
 * and for tests. One command at a time; responses are byte-exact (CRLF kept, dot-stuffing
 * removed), bounded in size, and every wait has a timeout, so a stalled or hostile server
 * costs a clear error, never a hang or unbounded memory.
 */
export interface Pop3ClientOptions {
  host: string;
  port: number;
  /** implicit: TLS from the first byte (pop3s); starttls: STLS before login; none: loopback tests only. */
  tls: TlsMode;
  /** Trust anchors for the server certificate (PEM); default: Node's CA store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
  /** TLS client certificate and key, when the server asks for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
  /** Longest wait for connect and for each response. */
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

const CRLF = Buffer.from('\r\n');
const TERMINATOR = Buffer.from('\r\n.\r\n');
const MAX_LINE = 4096;

interface Pending {
  multiline: boolean;
  resolve(v: { line: string; body?: Buffer }): void;
  reject(err: Error): void;
}

export class Pop3Client {
  private buf = Buffer.alloc(0);
  private length = 0;
  /** Index of the CRLF ending the current multi-line response's status line, or -1. */
  private statusEnd = -1;
  private statusText = '';
  /** How far the current multi-line response has been searched for its terminator. */
  private scanned = 0;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly timeoutMs: number;
  private readonly maxResponseSize: number;

  private constructor(
    private socket: Socket | TLSSocket,
    private readonly opts: Pop3ClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxResponseSize = opts.maxResponseSize ?? 64 * 1024 * 1024;
    this.attach(socket);
  }

  /** Connects, reads the greeting and, for `starttls`, upgrades the connection. */
  static async connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const socket = await openSocket(opts);
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
    const m = /^\+OK (\d+) (\d+)/.exec(line);
    if (!m) throw new Pop3ClientError('protocol', `unexpected STAT answer: ${line.slice(0, 80)}`);
    return { count: Number(m[1]), size: Number(m[2]) };
  }

  /** LIST: message number → size as the server counts it. */
  async list(): Promise<Array<{ n: number; size: number }>> {
    const { body } = await this.command('LIST', true);
    return parseListing(body!, (n, rest) => {
      if (!/^\d+$/.test(rest)) throw new Pop3ClientError('protocol', `bad LIST line for message ${n}`);
      return { n, size: Number(rest) };
    });
  }

  async uidl(): Promise<Array<{ n: number; uid: string }>> {
    const { body } = await this.command('UIDL', true);
    return parseListing(body!, (n, rest) => {
      if (!/^[\x21-\x7e]{1,70}$/.test(rest)) throw new Pop3ClientError('protocol', `bad UIDL line for message ${n}`);
      return { n, uid: rest };
    });
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

  private async startTls(): Promise<void> {
    await this.command('STLS', false);
    if (this.length > 0) throw new Pop3ClientError('protocol', 'server sent data after +OK to STLS');
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    this.socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, ...clientTlsOptions(this.opts) }, () => resolve(s));
      s.once('error', (err) => reject(new Pop3ClientError('tls', `TLS handshake failed: ${err.message}`)));
    });
    this.attach(this.socket);
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

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.append(chunk);
      this.parse();
    });
    socket.on('error', (err) => this.fail(new Pop3ClientError('network', `connection to ${this.opts.host}:${this.opts.port} failed: ${err.message}`)));
    socket.on('close', () => this.fail(new Pop3ClientError('network', `connection to ${this.opts.host}:${this.opts.port} closed`)));
  }

  /** A growable buffer: appending is amortised O(1) per byte, so a 20 MB RETR costs no quadratic copying. */
  private append(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length, 16 * 1024));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }

  private parse(): void {
    const p = this.pending;
    if (!p) {
      if (this.length > MAX_LINE) this.fail(new Pop3ClientError('protocol', 'server sent data nobody asked for'));
      return;
    }
    const buf = this.buf.subarray(0, this.length);
    if (this.statusEnd < 0) {
      const eol = buf.indexOf(CRLF);
      if (eol < 0) {
        if (buf.length > MAX_LINE) this.settle(new Pop3ClientError('protocol', 'status line too long'));
        return;
      }
      const status = buf.subarray(0, eol).toString('latin1');
      if (status.startsWith('-ERR')) {
        this.consume(eol + 2);
        return this.settle(new Pop3ClientError('rejected', `server answered: ${status.slice(0, 200)}`, status.slice(5)));
      }
      if (!status.startsWith('+OK')) {
        this.consume(eol + 2);
        return this.settle(new Pop3ClientError('protocol', `unexpected answer: ${status.slice(0, 80)}`));
      }
      if (!p.multiline) {
        this.consume(eol + 2);
        return this.settle(null, { line: status });
      }
      this.statusEnd = eol;
      this.statusText = status;
      this.scanned = eol;
    }
    // The body starts after the status line; an empty body is "+OK…\r\n.\r\n". Only new bytes
    // (plus the few a terminator may straddle) are searched on each arrival.
    const end = buf.indexOf(TERMINATOR, Math.max(this.statusEnd, this.scanned - TERMINATOR.length));
    if (end < 0) {
      this.scanned = buf.length;
      if (buf.length > this.maxResponseSize) this.settle(new Pop3ClientError('too-large', `response exceeds ${this.maxResponseSize} bytes`));
      return;
    }
    // Copied out: the receive buffer is reused for what follows.
    const body = unstuff(Buffer.from(buf.subarray(this.statusEnd + 2, end + 2)));
    const status = this.statusText;
    this.consume(end + TERMINATOR.length);
    this.settle(null, { line: status, body });
  }

  private consume(n: number): void {
    this.buf.copy(this.buf, 0, n, this.length);
    this.length -= n;
    this.statusEnd = -1;
    this.scanned = 0;
    // Give a big buffer back once a large message is through.
    if (this.buf.length > 1024 * 1024 && this.length < 64 * 1024) this.buf = Buffer.from(this.buf.subarray(0, this.length));
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

function parseListing<T>(body: Buffer, row: (n: number, rest: string) => T): T[] {
  const out: T[] = [];
  for (const line of body.toString('latin1').split('\r\n')) {
    if (line === '') continue;
    const m = /^(\d+) (.*)$/.exec(line);
    if (!m) throw new Pop3ClientError('protocol', `bad listing line: ${line.slice(0, 80)}`);
    out.push(row(Number(m[1]), m[2]!.trim()));
  }
  return out;
}

/** Removes the byte-stuffing dot from lines that start with ".." (RFC 1939 section 3). */
function unstuff(body: Buffer): Buffer {
  if (body.indexOf('\r\n.') < 0 && body[0] !== 0x2e) return body;
  const parts: Buffer[] = [];
  let from = 0;
  let lineStart = 0;
  while (lineStart < body.length) {
    if (body[lineStart] === 0x2e) {
      parts.push(body.subarray(from, lineStart));
      from = lineStart + 1;
    }
    const lf = body.indexOf(0x0a, lineStart);
    if (lf < 0) break;
    lineStart = lf + 1;
  }
  parts.push(body.subarray(from));
  return Buffer.concat(parts);
}

async function openSocket(opts: Pop3ClientOptions): Promise<Socket | TLSSocket> {
  try {
    return await openClientSocket(opts);
  } catch (err) {
    if (err instanceof ClientSocketError) throw new Pop3ClientError(err.kind, err.message);
    throw err;
  }
}

import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { once } from 'node:events';
import { BerFrameSplitter } from '../../src/wire/ber/index.js';
import { decodeLdapResponse, encodeRequest, type LdapRequest, type LdapResponse } from '../../src/wire/ldap/index.js';

// Raw sockets for the tests that must send or see what no real client does, and the loopback
// ports the tests' own servers listen on.

/** How long a read waits for the server before the test fails (a silent server must not hang the run). */
const DEFAULT_WAIT_MS = 30_000;

export interface RawConnectOptions {
  host?: string;
  /** TLS from the first byte: true for any certificate, or the options (ca, cert, servername, …). */
  tls?: boolean | ConnectionOptions;
  /** The client's own address (another 127.x.y.z plays another client host). */
  localAddress?: string;
}

/**
 * A bare client: writes exact bytes, reads what the server sends as bytes or CRLF lines, and knows
 * when the server ended the connection. Every wait is on data or close events, bounded by a
 * deadline that fails the test instead of hanging it; none is a sleep.
 */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  private readonly closed: Promise<void>;

  constructor(public socket: Socket) {
    this.attach(socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects over TCP, or TLS from the first byte, and resolves once the connection is up. */
  static async connect<T extends RawClient>(this: new (socket: Socket) => T, port: number, opts: RawConnectOptions = {}): Promise<T> {
    const host = opts.host ?? '127.0.0.1';
    const local = opts.localAddress ? { localAddress: opts.localAddress } : {};
    const socket = opts.tls ? tlsConnect({ port, host, ...local, rejectUnauthorized: false, ...(opts.tls === true ? {} : opts.tls) }) : tcpConnect({ port, host, ...local });
    await once(socket, opts.tls ? 'secureConnect' : 'connect');
    return new this(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private excerpt(): string {
    return JSON.stringify(this.buf.toString('latin1').slice(0, 300));
  }

  /**
   * Waits until `take` finds what it looks for in the bytes received (it may consume them); null
   * when the server ended the connection first.
   */
  protected async waitFor<T>(take: () => T | null, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = take();
      if (got !== null) return got;
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; unread: ${this.excerpt()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Every byte received and not read yet, taken. */
  protected takeAll(): Buffer {
    const all = this.buf;
    this.buf = Buffer.alloc(0);
    return all;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until at least `n` unread bytes arrived (or the connection ended) and returns them, unread. */
  async bytes(n = 1, timeoutMs?: number): Promise<Buffer> {
    return (await this.waitFor(() => (this.buf.length >= n ? this.buf : null), `${n} bytes`, timeoutMs)) ?? this.buf;
  }

  /** The same, taken. */
  async take(n = 1, timeoutMs?: number): Promise<Buffer> {
    await this.bytes(n, timeoutMs);
    return this.takeAll();
  }

  /** The next CRLF line without its CRLF; rejects if the connection ends first. */
  async line(timeoutMs?: number): Promise<string> {
    const line = await this.waitFor(
      () => {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) return null;
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      },
      'a line',
      timeoutMs,
    );
    if (line === null) throw new Error(`connection closed; unread: ${this.excerpt()}`);
    return line;
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for the server to close; unread: ${this.excerpt()}`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A slow client: writes `data` one byte every `intervalMs` (that pace is the client's
   * behaviour under test) until all is sent or the server closes; returns how many bytes went
   * out and whether the server closed first.
   */
  async trickle(data: string | Buffer, intervalMs: number): Promise<{ sent: number; closedFirst: boolean }> {
    const bytes = Buffer.from(data);
    let sent = 0;
    while (sent < bytes.length) {
      if (this.ended) return { sent, closedFirst: true };
      this.write(bytes.subarray(sent, sent + 1));
      sent++;
      await Promise.race([new Promise((r) => setTimeout(r, intervalMs)), this.closed]);
    }
    return { sent, closedFirst: this.ended };
  }

  /** Everything the server still sends until it closes the connection (latin1). */
  async rest(timeoutMs?: number): Promise<string> {
    await this.waitClosed(timeoutMs);
    return this.takeAll().toString('latin1');
  }

  /**
   * Switches to TLS over the same socket, after the server's yes to STARTTLS or STLS. Bytes that
   * came before the handshake are dropped: nothing sent in clear may be read as if protected.
   */
  async startTls(opts: ConnectionOptions = {}): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, ...opts });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.buf = Buffer.alloc(0);
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface RawSmtpReply {
  code: number;
  lines: string[];
  text: string;
}

/** SMTP over a RawClient: replies are read whole (multi-line `250-…` up to the `250 ` line). */
export class RawSmtpClient extends RawClient {
  async readReply(timeoutMs?: number): Promise<RawSmtpReply> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.line(timeoutMs);
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    const last = lines[lines.length - 1]!;
    return { code: Number(last.slice(0, 3)), lines, text: lines.join('\n') };
  }

  /** Sends a command and reads the reply. */
  async cmd(line: string): Promise<RawSmtpReply> {
    this.write(`${line}\r\n`);
    return this.readReply();
  }
}

/** POP3 over a RawClient: status lines and dot-terminated bodies. */
export class RawPop3Client extends RawClient {
  /** Sends a command and returns the status line. */
  async cmd(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.line();
  }

  /** The lines of a multi-line body up to the terminating ".", un-stuffed. */
  async body(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === '.') return out;
      out.push(l.startsWith('.') ? l.slice(1) : l);
    }
  }

  async login(user: string, password: string): Promise<void> {
    const u = await this.cmd(`USER ${user}`);
    const p = await this.cmd(`PASS ${password}`);
    if (!u.startsWith('+OK') || !p.startsWith('+OK')) throw new Error(`login failed: ${u} / ${p}`);
  }
}

/** LDAP over a RawClient: requests (or any bytes) out, decoded LDAPMessages in. */
export class RawLdapClient extends RawClient {
  private readonly frames = new BerFrameSplitter(64 * 1024 * 1024, 0x30);
  private lastId = 0;

  send(request: Buffer | LdapRequest): void {
    this.write(Buffer.isBuffer(request) ? request : encodeRequest(request));
  }

  /** The next response; null when the server closed the connection first. */
  async next(timeoutMs?: number): Promise<LdapResponse | null> {
    const frame = await this.waitFor(
      () => {
        this.frames.push(this.takeAll());
        return this.frames.next();
      },
      'an LDAP message',
      timeoutMs,
    );
    return frame && decodeLdapResponse(frame);
  }

  /** Responses up to and including the one that ends message `id` (a result). */
  async until(id: number): Promise<LdapResponse[]> {
    const out: LdapResponse[] = [];
    for (;;) {
      const r = await this.next();
      if (!r) throw new Error(`connection closed before the result of message ${id}`);
      out.push(r);
      if (r.messageId === id && r.type === 'result') return out;
    }
  }

  /** Sends `op` as the next message of this connection and returns its responses up to its result. */
  request(op: LdapRequest['op']): Promise<LdapResponse[]> {
    const messageId = ++this.lastId;
    this.send({ messageId, controls: [], op });
    return this.until(messageId);
  }
}

/** Starts `server` on an ephemeral loopback port and returns the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on (taken from the OS, then released): a peer that is down. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listenOnLoopback(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Sends exact request bytes over a plain socket and returns the raw response once it is
 * complete (by Content-Length or the last chunk), or whatever came when the server closed.
 */
export async function rawHttp(port: number, request: string | Buffer): Promise<string> {
  const s = tcpConnect(port, '127.0.0.1');
  await once(s, 'connect');
  let buf = Buffer.alloc(0);
  const complete = (): boolean => {
    const i = buf.indexOf('\r\n\r\n');
    if (i < 0) return false;
    const head = buf.subarray(0, i).toString('latin1');
    const len = /content-length: *(\d+)/i.exec(head);
    if (len) return buf.length >= i + 4 + Number(len[1]);
    return /transfer-encoding: *chunked/i.test(head) && buf.subarray(i).includes('\r\n0\r\n\r\n');
  };
  await new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (complete()) resolve();
    });
    s.on('close', () => resolve());
    s.on('error', () => resolve());
    s.write(request);
  });
  s.destroy();
  return buf.toString('utf8');
}

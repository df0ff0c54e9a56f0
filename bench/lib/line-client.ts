import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';

/**
 * A minimal line client for load generation: no TLS, no parsing beyond reply codes, so the
 * generator costs as little CPU as possible next to the server it measures.
 */
export class LineClient {
  private buf = '';
  private pending: Array<(line: string) => void> = [];
  private lines: string[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        const w = this.pending.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
    const s = net.connect({ port, host });
    s.setNoDelay(true);
    await once(s, 'connect');
    return new LineClient(s);
  }

  /** Implicit TLS, certificate not checked (the bench's own servers, self-signed, on loopback). */
  static async connectTls(port: number, host = '127.0.0.1'): Promise<LineClient> {
    const s = tls.connect({ port, host, rejectUnauthorized: false });
    s.setNoDelay(true);
    await once(s, 'secureConnect');
    return new LineClient(s);
  }

  line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((r) => this.pending.push(r));
  }

  /** Reads one SMTP reply (skipping continuation lines) and returns its last line. */
  async reply(): Promise<string> {
    for (;;) {
      const l = await this.line();
      if (!/^\d{3}-/.test(l)) return l;
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Several pieces in one system call (a primary system writing a message in one go). */
  writeAll(parts: Array<string | Buffer>): void {
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A POP3 reader for load generation: counts bytes of multi-line responses by scanning for the
 * terminating CRLF.CRLF in raw buffers, so the generator is not the bottleneck it measures.
 */
export class Pop3LoadClient {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      const w = this.wake;
      this.wake = null;
      w?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<Pop3LoadClient> {
    const s = net.connect({ port, host });
    s.setNoDelay(true);
    await once(s, 'connect');
    return new Pop3LoadClient(s);
  }

  private async more(): Promise<void> {
    await new Promise<void>((r) => (this.wake = r));
  }

  /** One status line. */
  async status(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const line = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return line;
      }
      await this.more();
    }
  }

  /** A status line plus its multi-line body; returns the body's byte count. */
  async multi(): Promise<number> {
    const st = await this.status();
    if (!st.startsWith('+OK')) throw new Error(`unexpected: ${st}`);
    if (this.buf.length >= 3 && this.buf[0] === 0x2e && this.buf[1] === 0x0d && this.buf[2] === 0x0a) {
      this.buf = this.buf.subarray(3);
      return 0;
    }
    let from = 0;
    for (;;) {
      const i = this.buf.indexOf('\r\n.\r\n', Math.max(0, from - 4));
      if (i >= 0) {
        this.buf = this.buf.subarray(i + 5);
        return i + 2;
      }
      from = this.buf.length;
      await this.more();
    }
  }

  write(data: string): void {
    this.socket.write(data);
  }

  close(): void {
    this.socket.destroy();
  }
}

import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';

/**
 * A bare line client for protocol tests: write exact bytes, read replies as they arrive.
 * SMTP replies are read whole (multi-line `250-…` up to the `250 ` line).
 */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(public socket: net.Socket) {
    this.attach(socket);
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number, opts: { tls?: boolean; host?: string } = {}): Promise<RawClient> {
    const host = opts.host ?? '127.0.0.1';
    const socket = opts.tls ? tls.connect({ port, host, rejectUnauthorized: false }) : net.connect({ port, host });
    await once(socket, opts.tls ? 'secureConnect' : 'connect');
    return new RawClient(socket);
  }

  /** Upgrades to TLS in place (after STARTTLS/STLS was answered). */
  async startTls(): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.buf = Buffer.alloc(0);
    this.attach(secure);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  private async waitFor<T>(take: () => T | null, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = take();
      if (got !== null) return got;
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; buffer: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${what}; buffer: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** One CRLF- (or LF-) terminated line, without the line end. */
  readLine(timeoutMs?: number): Promise<string> {
    return this.waitFor(() => {
      const i = this.buf.indexOf(0x0a);
      if (i < 0) return null;
      const line = this.buf.subarray(0, i).toString('latin1').replace(/\r$/, '');
      this.buf = this.buf.subarray(i + 1);
      return line;
    }, 'a line', timeoutMs);
  }

  /** A whole SMTP reply; returns its lines and the code. */
  async readReply(timeoutMs?: number): Promise<{ code: number; lines: string[]; text: string }> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    const last = lines[lines.length - 1]!;
    return { code: Number(last.slice(0, 3)), lines, text: lines.join('\n') };
  }

  /** Sends a command and reads the reply. */
  async cmd(line: string): Promise<{ code: number; lines: string[]; text: string }> {
    this.write(line + '\r\n');
    return this.readReply();
  }

  /** Resolves when the server closes the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    await this.waitFor(() => (this.closed ? true : null), 'close', timeoutMs).catch((err: Error) => {
      if (!this.closed) throw err;
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

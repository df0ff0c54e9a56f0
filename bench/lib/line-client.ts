import net from 'node:net';
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

  close(): void {
    this.socket.destroy();
  }
}

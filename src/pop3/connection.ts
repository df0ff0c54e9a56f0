import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { clientCertificateAccount, switchToTls, type Logger, type ServerTls } from '../core/index.js';
import { pop3 } from '../wire/index.js';

// Flow control for pipelining: past HIGH queued lines the socket is paused, below LOW it reads
// again, so a client that pipelines faster than we answer cannot make the queue grow unbounded.
const QUEUE_HIGH = 64;
const QUEUE_LOW = 16;
// After our last words a client that never reads must not keep the socket forever.
const FINAL_FLUSH_MS = 10_000;

/**
 * One client connection as the session sees it: a pull queue of input lines, backpressure-aware
 * writes, and the switch to TLS after STLS (implicit TLS is the listener's: then the socket
 * given is already the TLSSocket). It hides which socket is current, because after STLS every
 * read and write must go to the TLSSocket, never the raw one.
 */
export class Pop3Connection {
  private socket: Socket;
  private readonly splitter: pop3.LineSplitter;
  private readonly queue: pop3.LineEvent[] = [];
  private waiting: ((ev: pop3.LineEvent | null) => void) | undefined;
  private inputEnded = false;
  private interrupted = false;
  private isClosed = false;
  private ending = false;
  private drainWaits = 0;
  private paused = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * Runs while the session waits for a command line and none is queued. Bytes that do not
   * complete a line do not restart it (the socket's own timeout would, so a client trickling
   * one byte at a time stayed for ever).
   */
  private commandTimer: NodeJS.Timeout | undefined;
  private secureNow: boolean;
  readonly remoteAddress: string;
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  /** Called when the connection was idle for idleTimeoutMs (and is not stuck writing). */
  onIdle: () => void = () => this.destroy();

  constructor(
    private readonly raw: Socket,
    maxLineLength: number,
    private readonly idleTimeoutMs: number,
    private readonly log: Logger,
    /** The listener did the implicit-TLS handshake: `raw` is the TLSSocket. */
    secure = false,
  ) {
    this.socket = raw;
    this.secureNow = secure;
    this.splitter = new pop3.LineSplitter(maxLineLength);
    this.remoteAddress = raw.remoteAddress ?? 'unknown';
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.watch(raw);
    raw.setTimeout(idleTimeoutMs);
  }

  get secure(): boolean {
    return this.secureNow;
  }

  /** The account the verified TLS client certificate names (implicit TLS or after STLS); undefined without one. */
  get certificateAccount(): string | undefined {
    return this.secureNow ? clientCertificateAccount(this.socket as TLSSocket) : undefined;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Starts interpreting input. */
  startReading(): void {
    this.raw.on('data', this.onData);
  }

  /**
   * The next input line or overflow, in arrival order; null once the input ended, the socket
   * closed, or interrupt() was called.
   */
  next(): Promise<pop3.LineEvent | null> {
    if (this.interrupted || this.isClosed) return Promise.resolve(null);
    const ev = this.queue.shift();
    if (ev) {
      if (this.paused && this.queue.length < QUEUE_LOW) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve(ev);
    }
    if (this.inputEnded) return Promise.resolve(null);
    this.commandTimer = setTimeout(() => {
      this.commandTimer = undefined;
      if (this.waiting) this.onIdle();
    }, this.idleTimeoutMs);
    this.commandTimer.unref();
    return new Promise((resolve) => (this.waiting = resolve));
  }

  /** Makes a pending and every later next() return null (shutdown, idle timeout). */
  interrupt(): void {
    this.interrupted = true;
    this.wake(null);
  }

  /**
   * Writes, and when the socket's buffer is full waits for 'drain' (or close) before
   * resolving, so a slow reader holds back the writer instead of filling memory.
   */
  async write(data: string | Buffer): Promise<void> {
    const s = this.socket;
    if (this.isClosed || !s.writable) return;
    if (s.write(data)) return;
    this.drainWaits++;
    try {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          s.off('drain', done);
          s.off('close', done);
          resolve();
        };
        s.on('drain', done);
        s.on('close', done);
      });
    } finally {
      this.drainWaits--;
    }
  }

  /**
   * Switches to TLS after STLS; `okLine` is the +OK that must reach the client in plaintext
   * first. Before that, the plaintext input is cut off and everything already received after
   * the STLS line is thrown away: the defence against command injection into the TLS session
   * (CVE-2011-0411, first found in SMTP STARTTLS). Resolves undefined once TLS is up, else why
   * it is not (the connection is gone then).
   */
  async startTls(tls: ServerTls, okLine: string): Promise<string | undefined> {
    if (this.secureNow) throw new Error('TLS is already active');
    const raw = this.raw;
    raw.off('data', this.onData);
    raw.pause();
    this.queue.length = 0;
    this.splitter.reset();
    this.paused = false;
    const hs = await switchToTls(raw, okLine, tls, this.idleTimeoutMs);
    if (!hs.ok) {
      this.destroy();
      return hs.reason;
    }
    const secure = hs.socket;
    this.socket = secure;
    this.watch(secure);
    secure.setTimeout(this.idleTimeoutMs);
    this.secureNow = true;
    secure.on('data', this.onData);
    return undefined;
  }

  /** Writes the last words (if any), closes our side, and destroys if the peer does not read. */
  end(finalLine?: string): void {
    if (this.isClosed || this.ending) return;
    this.ending = true;
    this.interrupted = true;
    if (finalLine !== undefined && this.socket.writable) this.socket.write(finalLine);
    this.socket.end();
    this.flushTimer = setTimeout(() => this.destroy(), FINAL_FLUSH_MS);
    this.flushTimer.unref();
  }

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const ev of this.splitter.push(chunk)) {
      if (this.waiting) this.wake(ev);
      else this.queue.push(ev);
    }
    if (!this.paused && this.queue.length >= QUEUE_HIGH) {
      this.paused = true;
      this.socket.pause();
    }
  };

  private wake(ev: pop3.LineEvent | null): void {
    clearTimeout(this.commandTimer);
    this.commandTimer = undefined;
    const w = this.waiting;
    this.waiting = undefined;
    w?.(ev);
  }

  private watch(s: Socket): void {
    // 'error' is always followed by 'close'; a client resetting the connection is routine.
    s.on('error', (err: NodeJS.ErrnoException) => this.log.debug({ err: err.code ?? err.message }, 'pop3 socket error'));
    s.on('end', () => {
      this.inputEnded = true;
      if (this.queue.length === 0) this.wake(null);
    });
    s.on('timeout', () => {
      // Stuck in a write to a reader that stopped reading, or already saying goodbye: no
      // words can get through any more, so cut the connection.
      // (A client owing us a command is the command timer's.)
      if (this.drainWaits > 0 || this.ending) this.destroy();
    });
    s.on('close', () => {
      if (this.isClosed) return;
      this.isClosed = true;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.destroy();
      this.wake(null);
      this.markClosed();
    });
  }
}

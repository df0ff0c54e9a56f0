import type { Socket } from 'node:net';
import { switchToTls, type Logger, type ServerTls } from '../core/index.js';
import { BerFrameSplitter, type BerError } from '../wire/ber/index.js';

// How long a connection that we are closing may take to read our last words.
const FINAL_FLUSH_MS = 2_000;

export interface FrameHandler {
  /** One complete LDAPMessage. */
  frame(bytes: Buffer): void;
  /** The byte stream cannot be framed (bad header, too large): the session must end. */
  framingError(err: BerError): void;
  /** The idle timer fired while the connection was quiet. */
  idle(): void;
  /** A request begun did not complete within requestTimeoutMs. */
  requestTimedOut(): void;
  /** The client shut its sending side (it may still read our answers). */
  inputEnded(): void;
}

/**
 * The socket side of an LDAP session: cuts the byte stream into LDAPMessages, writes responses
 * with backpressure, switches to TLS for StartTLS, and keeps the idle timer. After StartTLS
 * every read and write goes to the TLSSocket, never the raw one. (On LDAPS the listener did the
 * handshake: the socket given is the TLSSocket.)
 */
export class LdapConnection {
  private socket: Socket;
  private readonly splitter: BerFrameSplitter;
  private handler: FrameHandler | undefined;
  private reading = true;
  private inputPaused = false;
  private ending = false;
  private drainWaits = 0;
  private secureNow: boolean;
  private closedFlag = false;
  readonly closed: Promise<void>;
  readonly remoteAddress: string;
  private readonly idleTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  /**
   * Runs from the first byte of a request until its last: bytes that do not complete it do not
   * restart it (the socket's idle timeout would, so a client trickling a byte at a time stayed).
   */
  private requestTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly raw: Socket,
    opts: { maxRequestSize: number; idleTimeoutMs: number; requestTimeoutMs: number; secure: boolean },
    private readonly log: Logger,
  ) {
    this.socket = raw;
    this.secureNow = opts.secure;
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.requestTimeoutMs = opts.requestTimeoutMs;
    raw.once('close', () => this.stopRequestTimer());
    this.remoteAddress = raw.remoteAddress ?? 'unknown';
    // 0x30: every LDAPMessage is a SEQUENCE; anything else is not LDAP at all.
    this.splitter = new BerFrameSplitter(opts.maxRequestSize, 0x30);
    this.closed = new Promise((resolve) => raw.once('close', () => resolve()));
    raw.once('close', () => (this.closedFlag = true));
    this.watch(raw);
    raw.setTimeout(opts.idleTimeoutMs);
    raw.setNoDelay(true);
  }

  get isSecure(): boolean {
    return this.secureNow;
  }

  get isClosed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  /** Bytes received after the frames handed out so far (pipelined input). */
  get pendingInput(): number {
    return this.splitter.pending;
  }

  start(handler: FrameHandler): void {
    this.handler = handler;
    this.socket.on('data', this.onData);
  }

  /** Writes one buffer; false when the kernel buffer is full and the writer should await drain(). */
  write(bytes: Buffer): boolean {
    if (this.ending || !this.socket.writable) return true;
    return this.socket.write(bytes);
  }

  /** Resolves when the socket can take more, or when it closed. */
  async drain(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.isClosed) return;
    this.drainWaits++;
    const s = this.socket;
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

  /** Stops reading (too many operations in progress); TCP flow control then slows the client. */
  pauseInput(): void {
    if (this.inputPaused) return;
    this.inputPaused = true;
    this.socket.pause();
  }

  resumeInput(): void {
    if (!this.inputPaused) return;
    this.inputPaused = false;
    this.socket.resume();
    // Frames that arrived in the chunk that made us pause are still in the splitter.
    this.drainFrames();
  }

  /**
   * Switches to TLS after the StartTLS success `response` reached the kernel in plaintext.
   * Input after the StartTLS request was refused by the caller; reading stops here so nothing
   * sent in plaintext can slip into the TLS session. Resolves undefined once TLS is up, else
   * why it is not (the connection is gone then).
   */
  async startTls(tls: ServerTls, response: Buffer): Promise<string | undefined> {
    if (this.secureNow) throw new Error('TLS is already active');
    const raw = this.raw;
    raw.off('data', this.onData);
    raw.pause();
    this.reading = false;
    const hs = await switchToTls(raw, response, tls, this.idleTimeoutMs);
    if (!hs.ok) {
      this.destroy();
      return hs.reason;
    }
    const secure = hs.socket;
    this.socket = secure;
    this.watch(secure);
    secure.setTimeout(this.idleTimeoutMs);
    this.secureNow = true;
    this.reading = true;
    secure.on('data', this.onData);
    return undefined;
  }

  /** Sends the last words (if any), closes our side, destroys if the peer does not read them. */
  end(finalWords?: Buffer): void {
    if (this.ending || this.isClosed) return;
    this.ending = true;
    this.reading = false;
    this.socket.off('data', this.onData);
    if (finalWords && this.socket.writable) this.socket.write(finalWords);
    this.socket.end();
    const t = setTimeout(() => this.destroy(), FINAL_FLUSH_MS);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.splitter.push(chunk);
    this.drainFrames();
  };

  private stopRequestTimer(): void {
    clearTimeout(this.requestTimer);
    this.requestTimer = undefined;
  }

  /** After reading: a request begun and not complete has its deadline; a new one a new deadline. */
  private timeRequest(completedOne: boolean): void {
    if (this.inputPaused || this.splitter.pending === 0 || !this.reading) return this.stopRequestTimer();
    if (this.requestTimer && !completedOne) return;
    this.stopRequestTimer();
    this.requestTimer = setTimeout(() => {
      this.requestTimer = undefined;
      if (!this.inputPaused && this.splitter.pending > 0) this.handler?.requestTimedOut();
    }, this.requestTimeoutMs);
    this.requestTimer.unref();
  }

  private drainFrames(): void {
    let completed = false;
    try {
      completed = this.nextFrames();
    } finally {
      this.timeRequest(completed);
    }
  }

  /** Hands out the complete frames; true when there was at least one. */
  private nextFrames(): boolean {
    const h = this.handler!;
    let any = false;
    while (this.reading && !this.inputPaused) {
      let frame: Buffer | null;
      try {
        frame = this.splitter.next();
      } catch (err) {
        this.reading = false;
        h.framingError(err as BerError);
        return any;
      }
      if (frame === null) return any;
      any = true;
      h.frame(frame);
    }
    return any;
  }

  private watch(s: Socket): void {
    // 'error' is always followed by 'close'; a client resetting the connection is routine.
    s.on('error', (err: NodeJS.ErrnoException) => this.log.debug({ err: err.code ?? err.message }, 'ldap socket error'));
    s.on('end', () => this.handler?.inputEnded());
    s.on('timeout', () => {
      // Stuck writing to a reader that stopped reading, or saying goodbye: cut.
      if (this.drainWaits > 0 || this.ending) this.destroy();
      else this.handler?.idle();
    });
  }
}

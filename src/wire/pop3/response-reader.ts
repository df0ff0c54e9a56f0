import { dotUnstuff } from './dotstuff.js';

/**
 * A server's response as a client reads it: the status line (without CRLF) and, for a
 * multi-line response, the body byte-exact with the stuffing dots removed and CRLFs kept.
 */
export type Pop3Response = { ok: true; status: string; body?: Buffer } | { ok: false; status: string; text: string };

export type Pop3ResponseProblem = 'status-too-long' | 'not-a-status' | 'too-large' | 'unsolicited' | 'bad-listing';

export class Pop3ResponseError extends Error {
  constructor(
    readonly reason: Pop3ResponseProblem,
    message: string,
  ) {
    super(message);
    this.name = 'Pop3ResponseError';
  }
}

export interface Pop3ResponseLimits {
  /** Longest status line, CRLF included (default 4096; RFC 2449 says 512). */
  maxLineLength?: number;
  /** Largest multi-line response (a message), in bytes. */
  maxResponseSize: number;
}

const CRLF = Buffer.from('\r\n');
const TERMINATOR = Buffer.from('\r\n.\r\n');

/**
 * Cuts a server's byte stream into responses (RFC 1939 section 3). Whether a response is
 * multi-line depends on the command, so the caller says what it expects; -ERR is always one
 * line. Bytes are kept in one growable buffer (appending is amortised O(1) per byte, so a
 * 20 MB RETR costs no quadratic copying) and only bytes new since the last look are searched
 * for the terminator. Breaking a bound throws Pop3ResponseError; the position in the stream is
 * lost then, so the connection is finished.
 */
export class Pop3ResponseReader {
  private buf = Buffer.alloc(0);
  private length = 0;
  /** Where the CRLF ending the current multi-line response's status line is, or -1. */
  private statusEnd = -1;
  private status = '';
  /** How far the current multi-line response has been searched for its terminator. */
  private scanned = 0;
  private readonly maxLine: number;
  private readonly maxResponseSize: number;

  constructor(limits: Pop3ResponseLimits) {
    this.maxLine = limits.maxLineLength ?? 4096;
    this.maxResponseSize = limits.maxResponseSize;
  }

  /** Bytes received and not yet part of a response. */
  get buffered(): number {
    return this.length;
  }

  push(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length, 16 * 1024));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }

  /** When no command is outstanding: more than a line's worth of bytes is a server talking to itself. */
  checkUnsolicited(): void {
    if (this.length > this.maxLine) throw new Pop3ResponseError('unsolicited', 'server sent data nobody asked for');
  }

  /** The next response, or null until it is complete. */
  next(multiline: boolean): Pop3Response | null {
    const buf = this.buf.subarray(0, this.length);
    if (this.statusEnd < 0) {
      const eol = buf.indexOf(CRLF);
      if (eol < 0) {
        if (buf.length > this.maxLine) throw new Pop3ResponseError('status-too-long', 'status line too long');
        return null;
      }
      const status = buf.subarray(0, eol).toString('latin1');
      if (status.startsWith('-ERR')) {
        this.consume(eol + 2);
        return { ok: false, status, text: status.slice(5) };
      }
      if (!status.startsWith('+OK')) {
        this.consume(eol + 2);
        throw new Pop3ResponseError('not-a-status', `unexpected answer: ${status.slice(0, 80)}`);
      }
      if (!multiline) {
        this.consume(eol + 2);
        return { ok: true, status };
      }
      this.statusEnd = eol;
      this.status = status;
      this.scanned = eol;
    }
    // The body starts after the status line; an empty body is "+OK…\r\n.\r\n". Only new bytes
    // (plus the few a terminator may straddle) are searched on each arrival.
    const end = buf.indexOf(TERMINATOR, Math.max(this.statusEnd, this.scanned - TERMINATOR.length));
    if (end < 0) {
      this.scanned = buf.length;
      if (buf.length > this.maxResponseSize) throw new Pop3ResponseError('too-large', `response exceeds ${this.maxResponseSize} bytes`);
      return null;
    }
    // Copied out: the receive buffer is reused for what follows.
    const body = dotUnstuff(Buffer.from(buf.subarray(this.statusEnd + 2, end + 2)));
    const status = this.status;
    this.consume(end + TERMINATOR.length);
    return { ok: true, status, body };
  }

  private consume(n: number): void {
    this.buf.copy(this.buf, 0, n, this.length);
    this.length -= n;
    this.statusEnd = -1;
    this.scanned = 0;
    // Give a big buffer back once a large message is through.
    if (this.buf.length > 1024 * 1024 && this.length < 64 * 1024) this.buf = Buffer.from(this.buf.subarray(0, this.length));
  }
}

/**
 * SMTP replies as a client receives them (RFC 5321 section 4.2): a three-digit code, text
 * lines, multi-line replies as "250-…" lines ending with "250 …"; RFC 3463 enhanced status
 * codes at the start of the text. Pure: text in, replies out.
 */
export interface SmtpClientReply {
  code: number;
  /** The reply's text lines, without code and separator. */
  lines: string[];
}

export type SmtpReplyProblem = 'line-too-long' | 'malformed' | 'too-many-lines';

export class SmtpReplyError extends Error {
  constructor(
    readonly reason: SmtpReplyProblem,
    message: string,
  ) {
    super(message);
    this.name = 'SmtpReplyError';
  }
}

export interface SmtpReplyLimits {
  /** Longest reply line, CRLF not counted (default 4096; RFC 5321 4.5.3.1.5 says 512). */
  maxLineLength?: number;
  /** Most lines in one reply (default 100: an EHLO answer has a dozen). */
  maxLines?: number;
}

const LINE_RE = /^(\d{3})(?:([ -])(.*))?$/;

/**
 * Cuts the server's stream into replies. Input is text in latin1 (one character per byte, as
 * the client's socket delivers it), so lengths are byte counts. A line that breaks the rules
 * (no code, a code that changes inside a multi-line reply, too long, too many lines) throws
 * SmtpReplyError; the stream position is lost then, so the connection is finished.
 */
export class SmtpReplyReader {
  private input = '';
  private lines: string[] = [];
  private code = '';
  private readonly maxLine: number;
  private readonly maxLines: number;

  constructor(limits: SmtpReplyLimits = {}) {
    this.maxLine = limits.maxLineLength ?? 4096;
    this.maxLines = limits.maxLines ?? 100;
  }

  push(text: string): void {
    this.input = this.input === '' ? text : this.input + text;
  }

  /** Whether part of a reply is held: after a STARTTLS go-ahead nothing may be. */
  get holding(): boolean {
    return this.input !== '' || this.lines.length > 0;
  }

  /** The next complete reply, or null until one has arrived. */
  next(): SmtpClientReply | null {
    for (;;) {
      const lf = this.input.indexOf('\n');
      if (lf < 0) {
        if (this.input.length > this.maxLine) throw new SmtpReplyError('line-too-long', 'reply line too long');
        return null;
      }
      const end = lf > 0 && this.input.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
      const line = this.input.slice(0, end);
      this.input = this.input.slice(lf + 1);
      const m = line.length > this.maxLine ? null : LINE_RE.exec(line);
      if (!m || (this.lines.length > 0 && m[1] !== this.code)) throw new SmtpReplyError('malformed', `unexpected reply line: ${JSON.stringify(line.slice(0, 80))}`);
      this.code = m[1]!;
      this.lines.push(m[3] ?? '');
      if (this.lines.length > this.maxLines) throw new SmtpReplyError('too-many-lines', `reply longer than ${this.maxLines} lines`);
      if (m[2] === '-') continue;
      const reply = { code: Number(this.code), lines: this.lines };
      this.lines = [];
      return reply;
    }
  }
}

/** "250 2.0.0 text" — a reply as one line, for logs and for passing the server's words on. */
export function formatSmtpReply(r: SmtpClientReply): string {
  return `${r.code} ${r.lines.join(' ')}`.trim();
}

const ENHANCED_RE = /^([245])\.(\d{1,3})\.(\d{1,3})\b/;

/**
 * The reply's RFC 3463 enhanced status code ("5.7.1"), when its text starts with one of the
 * reply's own class (RFC 3463 section 2: 5.x.x only with a 5yz reply), and the text after it.
 * Without one, `status` is undefined and `text` is the whole text.
 */
export function splitEnhancedStatus(r: SmtpClientReply): { status: string | undefined; text: string } {
  const text = r.lines.join(' ');
  const m = ENHANCED_RE.exec(r.lines[0] ?? '');
  if (!m || m[1] !== String(r.code)[0]) return { status: undefined, text };
  return { status: m[0], text: text.slice(m[0].length).replace(/^ /, '') };
}

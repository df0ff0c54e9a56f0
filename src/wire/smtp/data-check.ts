/**
 * Checks the bytes of an SMTP DATA section (after dot-unstuffing) as they stream past:
 * message size, line length, NUL bytes, and bare CR or LF — the ambiguity SMTP smuggling
 * lives on. Pure and incremental: feed chunks, get the first violation or the (possibly
 * normalised) bytes to store. Holds at most one byte of state between chunks.
 */
export type DataViolation =
  | { kind: 'too-large'; limit: number }
  | { kind: 'line-too-long'; limit: number; line: number }
  | { kind: 'nul'; line: number }
  | { kind: 'bare-lf'; line: number }
  | { kind: 'bare-cr'; line: number };

export interface DataCheckOptions {
  maxBytes: number;
  /** Octets per line, without the CRLF. */
  maxLineLength: number;
  /** 'reject': bare CR/LF is a violation; 'normalize': it is rewritten to CRLF. */
  bareLineFeed: 'reject' | 'normalize';
}

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const CRLF = Buffer.from('\r\n');
const LF_ONLY = Buffer.from('\n');

export class DataChecker {
  private bytes = 0;
  private lineLength = 0;
  private lineNo = 1;
  /** The previous chunk ended with a CR whose partner LF has not been seen yet. */
  private pendingCr = false;
  private violation: DataViolation | null = null;

  constructor(private readonly opts: DataCheckOptions) {}

  get failed(): DataViolation | null {
    return this.violation;
  }

  /** Bytes counted so far (of the input, before normalisation). */
  get size(): number {
    return this.bytes;
  }

  /**
   * Checks one chunk. Returns the bytes to keep (the chunk itself unless normalising), or
   * null once a violation was found; after that every call returns null.
   *
   * The chunk is walked a line at a time with `indexOf` (native memchr) for CR, LF and NUL
   * rather than byte by byte in JavaScript: every message passes here once per hop, and a
   * 100 KB body is ~1,300 lines but 100,000 bytes. The result is the same as a byte loop's:
   * the first violation in byte order, with the line it is on.
   */
  push(chunk: Buffer): Buffer | null {
    if (this.violation) return null;
    this.bytes += chunk.length;
    if (this.bytes > this.opts.maxBytes) return this.fail({ kind: 'too-large', limit: this.opts.maxBytes });
    const normalize = this.opts.bareLineFeed === 'normalize';
    const max = this.opts.maxLineLength;
    const len = chunk.length;
    let out: Buffer[] | null = null;
    let copyFrom = 0;
    let pos = 0;
    if (this.pendingCr && len > 0) {
      this.pendingCr = false;
      if (chunk[0] === LF) {
        pos = 1;
      } else {
        // The CR that ended the previous chunk was a bare one.
        if (!normalize) return this.fail({ kind: 'bare-cr', line: this.lineNo });
        // The CR itself was already passed on; add the LF it lacked.
        out = [LF_ONLY];
      }
      this.endLine();
    }
    // Positions of the next CR, LF and NUL at or after `pos` (-1: none left in the chunk).
    const nul = chunk.indexOf(NUL, pos);
    let cr = chunk.indexOf(CR, pos);
    let lf = chunk.indexOf(LF, pos);
    while (pos < len) {
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos);
      if (lf !== -1 && lf < pos) lf = chunk.indexOf(LF, pos);
      const end = cr === -1 ? (lf === -1 ? len : lf) : lf === -1 ? cr : Math.min(cr, lf);
      // [pos, end) is line content: no CR or LF in it, maybe a NUL.
      if (nul !== -1 && nul < end) {
        if (this.lineLength + (nul - pos) > max) return this.fail({ kind: 'line-too-long', limit: max, line: this.lineNo });
        return this.fail({ kind: 'nul', line: this.lineNo });
      }
      this.lineLength += end - pos;
      if (this.lineLength > max) return this.fail({ kind: 'line-too-long', limit: max, line: this.lineNo });
      if (end === len) break;
      if (end === lf) {
        // An LF not consumed as the partner of a CR is a bare one.
        if (!normalize) return this.fail({ kind: 'bare-lf', line: this.lineNo });
        (out ??= []).push(chunk.subarray(copyFrom, end), CRLF);
        copyFrom = pos = end + 1;
        this.endLine();
        continue;
      }
      if (end + 1 === len) {
        // Whether this CR is bare is decided by the next chunk (or by end()).
        this.pendingCr = true;
        break;
      }
      if (chunk[end + 1] === LF) {
        pos = end + 2;
        this.endLine();
        continue;
      }
      if (!normalize) return this.fail({ kind: 'bare-cr', line: this.lineNo });
      (out ??= []).push(chunk.subarray(copyFrom, end + 1), LF_ONLY);
      copyFrom = pos = end + 1;
      this.endLine();
    }
    if (!out) return chunk;
    out.push(chunk.subarray(copyFrom));
    return Buffer.concat(out);
  }

  /**
   * Ends the data. A trailing lone CR is a bare CR; returns what normalisation still owes
   * (an LF) or null on violation.
   */
  end(): Buffer | null {
    if (this.violation) return null;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (this.opts.bareLineFeed !== 'normalize') return this.fail({ kind: 'bare-cr', line: this.lineNo });
      return Buffer.from(LF_ONLY);
    }
    return Buffer.alloc(0);
  }

  private endLine(): void {
    this.lineLength = 0;
    this.lineNo++;
  }

  private fail(v: DataViolation): null {
    this.violation = v;
    return null;
  }
}

/** The SMTP answer for a violation: code, enhanced code and text. */
export function describeViolation(v: DataViolation): { code: number; enhanced: string; text: string } {
  switch (v.kind) {
    case 'too-large':
      return { code: 552, enhanced: '5.3.4', text: `Message too large: the limit is ${v.limit} bytes` };
    case 'line-too-long':
      return { code: 554, enhanced: '5.6.0', text: `Line ${v.line} is longer than ${v.limit} octets (RFC 5322 section 2.1.1)` };
    case 'nul':
      return { code: 554, enhanced: '5.6.0', text: `Line ${v.line} contains a NUL byte, which mail must not carry` };
    case 'bare-lf':
      return { code: 554, enhanced: '5.6.0', text: `Line ${v.line} ends in a bare LF; lines must end in CRLF (RFC 5321 section 2.3.8)` };
    case 'bare-cr':
      return { code: 554, enhanced: '5.6.0', text: `Line ${v.line} contains a bare CR; lines must end in CRLF (RFC 5321 section 2.3.8)` };
  }
}

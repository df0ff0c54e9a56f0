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
   */
  push(chunk: Buffer): Buffer | null {
    if (this.violation) return null;
    this.bytes += chunk.length;
    if (this.bytes > this.opts.maxBytes) return this.fail({ kind: 'too-large', limit: this.opts.maxBytes });
    const normalize = this.opts.bareLineFeed === 'normalize';
    let out: Buffer[] | null = normalize ? [] : null;
    let copyFrom = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (b === LF) {
          this.endLine();
          continue;
        }
        // CR not followed by LF: the CR was a bare one.
        if (!normalize) return this.fail({ kind: 'bare-cr', line: this.lineNo });
        // The CR itself was already copied; add the LF it lacked.
        out!.push(chunk.subarray(copyFrom, i), Buffer.from([LF]));
        copyFrom = i;
        this.endLine();
      }
      if (b === CR) {
        this.pendingCr = true;
        continue;
      }
      if (b === LF) {
        if (!normalize) return this.fail({ kind: 'bare-lf', line: this.lineNo });
        out!.push(chunk.subarray(copyFrom, i), CRLF);
        copyFrom = i + 1;
        this.endLine();
        continue;
      }
      if (b === NUL) return this.fail({ kind: 'nul', line: this.lineNo });
      if (++this.lineLength > this.opts.maxLineLength) {
        return this.fail({ kind: 'line-too-long', limit: this.opts.maxLineLength, line: this.lineNo });
      }
    }
    if (!out) return chunk;
    if (copyFrom === 0) return chunk;
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
      return Buffer.from([LF]);
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

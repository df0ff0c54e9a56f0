/**
 * A byte-preserving multipart splitter (RFC 2046 5.1.1): where the preamble, each body part and
 * the close delimiter lie in a multipart body, as offsets, nothing decoded or copied.
 *
 * Hand-written, not mailparser: the client module must splice one part of a decrypted message
 * (the Vermerk goes into its text) and keep every other byte identical — the attachments, the
 * other parts' header fields, the preamble and epilogue. mailparser gives decoded content and
 * whoever writes it back re-serialises the whole tree, which changes bytes.
 *
 * Delimiter lines are `--boundary` at the start of a line, optionally followed by transport
 * padding (spaces, tabs), then CRLF; the close delimiter is `--boundary--`. The CRLF before a
 * delimiter line belongs to the delimiter, not to the part before it. Bare LF line ends are
 * accepted too (OpenSSL writes them). Every search is one Buffer.indexOf pass over the body.
 */

export interface ByteRange {
  /** Offset of the first byte. */
  readonly start: number;
  /** Offset after the last byte. */
  readonly end: number;
}

/** A delimiter (or close delimiter) line with the line break before it. */
export interface Delimiter {
  /** Where the line break before the `--` starts (= the end of the part before); `line` at offset 0. */
  readonly start: number;
  /** Offset of the `--` that begins the delimiter line. */
  readonly line: number;
  /** Offset after the delimiter line's own line break (the input length when it has none). */
  readonly end: number;
}

export interface MultipartLayout {
  readonly ok: true;
  /** The bytes before the first delimiter line, its leading line break excluded. */
  readonly preamble: ByteRange;
  /** Each body part (header and body), in order: from its delimiter line's end to the next delimiter's start. */
  readonly parts: readonly ByteRange[];
  /** `delimiters[i]` opens `parts[i]`. */
  readonly delimiters: readonly Delimiter[];
  /** The close delimiter; `close.end` is where the epilogue starts. */
  readonly close: Delimiter;
}

export type MultipartFailure =
  /** Empty, longer than 70 characters (RFC 2046 5.1.1), or with control or non-ASCII characters. */
  | { readonly ok: false; readonly reason: 'invalid-boundary' }
  /** No delimiter line at all: the whole body would be preamble. */
  | { readonly ok: false; readonly reason: 'no-parts' }
  /** More parts than `maxParts`: not split further. */
  | { readonly ok: false; readonly reason: 'too-many-parts' }
  /**
   * Delimiter lines but no close delimiter (a truncated message). The parts found are given,
   * the last one running to the end of the input.
   */
  | {
      readonly ok: false;
      readonly reason: 'no-close-delimiter';
      readonly preamble: ByteRange;
      readonly parts: readonly ByteRange[];
      readonly delimiters: readonly Delimiter[];
    };

export type MultipartSplit = MultipartLayout | MultipartFailure;

export interface SplitOptions {
  /** Stop after this many parts (default 10 000): a body of empty parts must not become a huge array. */
  readonly maxParts?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const MAX_BOUNDARY = 70;

/** RFC 2046 5.1.1 allows 1–70 characters; printable ASCII is accepted here (not only bchars), no trailing space. */
export function isValidBoundary(boundary: string): boolean {
  return boundary.length >= 1 && boundary.length <= MAX_BOUNDARY && /^[\x20-\x7e]*[\x21-\x7e]$/.test(boundary);
}

export function splitMultipart(body: Uint8Array, boundary: string, opts: SplitOptions = {}): MultipartSplit {
  if (!isValidBoundary(boundary)) return { ok: false, reason: 'invalid-boundary' };
  const maxParts = opts.maxParts ?? 10_000;
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  const delimiters: Delimiter[] = [];
  let from = 0;
  while (from <= buf.length) {
    const line = buf.indexOf(dash, from);
    if (line < 0) break;
    // The pattern holds no LF, so no delimiter line can start inside this match: skip past it.
    from = line + dash.length;
    if (line > 0 && buf[line - 1] !== LF) continue;
    const prevEnd = delimiters.length > 0 ? delimiters[delimiters.length - 1]!.end : 0;
    const start = Math.max(prevEnd, breakBefore(buf, line));
    let p = line + dash.length;
    if (buf[p] === DASH && buf[p + 1] === DASH) {
      // The close delimiter; whatever follows on its line is ignored (padding or junk), the epilogue after.
      const nl = buf.indexOf(LF, p + 2);
      const close: Delimiter = { start, line, end: nl < 0 ? buf.length : nl + 1 };
      if (delimiters.length === 0) return { ok: false, reason: 'no-parts' };
      return { ok: true, ...layout(delimiters, close.start), close };
    }
    while (buf[p] === 0x20 || buf[p] === 0x09) p++;
    let end: number;
    if (p === buf.length) end = p;
    else if (buf[p] === LF) end = p + 1;
    else if (buf[p] === CR && buf[p + 1] === LF) end = p + 2;
    else continue; // `--boundaryX…`: a longer line, not a delimiter
    if (delimiters.length >= maxParts) return { ok: false, reason: 'too-many-parts' };
    delimiters.push({ start, line, end });
  }
  if (delimiters.length === 0) return { ok: false, reason: 'no-parts' };
  return { ok: false, reason: 'no-close-delimiter', ...layout(delimiters, buf.length) };
}

/** Offset of the CRLF (or LF) that ends the line before `line`; `line` itself at the start. */
function breakBefore(buf: Buffer, line: number): number {
  if (line === 0) return 0;
  return line >= 2 && buf[line - 2] === CR ? line - 2 : line - 1;
}

/** Part i runs from delimiter i's end to delimiter i+1's start (the last to `lastEnd`). */
function layout(delimiters: Delimiter[], lastEnd: number) {
  const parts: ByteRange[] = delimiters.map((d, i) => ({ start: d.end, end: delimiters[i + 1]?.start ?? lastEnd }));
  return { preamble: { start: 0, end: delimiters[0]!.start }, parts, delimiters };
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const LF_ONLY = Buffer.from('\n');
const EXTRA_DOT = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n');

/**
 * A whole message as the bytes a client sends after `354` (RFC 5321 section 4.5.2): every
 * line end becomes CRLF (a bare CR or bare LF too, so no receiver can read a line end, or
 * an end of data, the sender did not mean — SMTP smuggling), a line starting with "." gets a
 * second one, and `.CRLF` ends it, after a CRLF if the message lacked a final one.
 *
 * It walks the message a line at a time with `indexOf` (native memchr) instead of byte by byte:
 * a sealed KOM-LE message is ~200 KB of base64 lines that need no change at all, so the usual
 * answer is the message itself, uncopied, plus the terminator.
 *
 * `cleanFrom`: where the message's bytes are already in that form — CRLF-terminated lines, none
 * starting with "." (base64 lines as `encodeBase64Lines` writes them: its alphabet has neither
 * dot, CR nor LF) — so only the part before it, which must end with a line end, is walked.
 */
export function encodeDataSection(message: Uint8Array, cleanFrom = message.byteLength): Buffer[] {
  const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (cleanFrom >= buf.length) {
    const body = normalizeLines(buf);
    const len = buf.length;
    const endsWithLineEnd = len === 0 || buf[len - 1] === LF || buf[len - 1] === CR;
    // A message ending in a bare CR got its LF; one ending in no line end gets a CRLF.
    return body.length === 0 ? [TERMINATOR] : [body, endsWithLineEnd ? TERMINATOR : CRLF_TERMINATOR];
  }
  if (cleanFrom <= 0 || buf[cleanFrom - 1] !== LF || buf[buf.length - 1] !== LF) {
    throw new RangeError('encodeDataSection: the clean part must start after a line end and end with one');
  }
  const head = normalizeLines(buf.subarray(0, cleanFrom));
  // An unchanged head is a view of the message itself: then the message goes out whole.
  if (head.buffer === buf.buffer && head.byteOffset === buf.byteOffset && head.length === cleanFrom) return [buf, TERMINATOR];
  return [head, buf.subarray(cleanFrom), TERMINATOR];
}

/** The bytes with every line end made CRLF and line-initial dots doubled; `buf` itself when nothing changes. */
function normalizeLines(buf: Buffer): Buffer {
  const len = buf.length;
  const out: Buffer[] = [];
  let copyFrom = 0;
  let lineStart = 0;
  let cr = buf.indexOf(CR);
  let lf = buf.indexOf(LF);
  for (;;) {
    if (lineStart < len && buf[lineStart] === DOT) {
      out.push(buf.subarray(copyFrom, lineStart), EXTRA_DOT);
      copyFrom = lineStart;
    }
    if (cr !== -1 && cr < lineStart) cr = buf.indexOf(CR, lineStart);
    if (lf !== -1 && lf < lineStart) lf = buf.indexOf(LF, lineStart);
    if (cr === -1 && lf === -1) break;
    if (cr !== -1 && (lf === -1 || cr < lf)) {
      if (lf === cr + 1) {
        lineStart = lf + 1;
        continue;
      }
      // A bare CR: keep it and add the LF it lacks.
      out.push(buf.subarray(copyFrom, cr + 1), LF_ONLY);
      copyFrom = lineStart = cr + 1;
      continue;
    }
    // A bare LF: put a CR in front of it.
    out.push(buf.subarray(copyFrom, lf), CRLF);
    copyFrom = lineStart = lf + 1;
  }
  if (out.length === 0) return buf;
  out.push(buf.subarray(copyFrom));
  return Buffer.concat(out);
}

/**
 * encodeDataSection for a message that arrives in chunks (a large blob streamed to a relay
 * peer): the same bytes on the wire however the chunks are cut. The state that crosses a cut is
 * whether the next byte starts a line (for the dot) and whether the last chunk ended in a CR
 * whose LF, if any, is the next chunk's first byte.
 */
export class DataSectionEncoder {
  private atLineStart = true;
  private pendingCr = false;

  /** The wire bytes for this chunk (views of it where nothing changes). */
  push(chunk: Uint8Array): Buffer[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const len = buf.length;
    const out: Buffer[] = [];
    if (len === 0) return out;
    let pos = 0;
    if (this.pendingCr) {
      // The CR went out already; its LF is either this chunk's first byte or added here.
      this.pendingCr = false;
      out.push(LF_ONLY);
      if (buf[0] === LF) pos = 1;
      this.atLineStart = true;
    }
    let copyFrom = pos;
    let lineStart = this.atLineStart ? pos : -1;
    let cr = buf.indexOf(CR, pos);
    let lf = buf.indexOf(LF, pos);
    for (;;) {
      if (lineStart >= 0 && lineStart < len && buf[lineStart] === DOT) {
        out.push(buf.subarray(copyFrom, lineStart), EXTRA_DOT);
        copyFrom = lineStart;
      }
      if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
      if (lf !== -1 && lf < pos) lf = buf.indexOf(LF, pos);
      if (cr === -1 && lf === -1) break;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        if (cr === len - 1) {
          // Whether this CR is half of a CRLF is the next chunk's to say.
          this.pendingCr = true;
          pos = len;
          lineStart = -1;
          break;
        }
        if (lf === cr + 1) {
          pos = lineStart = lf + 1;
          continue;
        }
        out.push(buf.subarray(copyFrom, cr + 1), LF_ONLY);
        copyFrom = pos = lineStart = cr + 1;
        continue;
      }
      out.push(buf.subarray(copyFrom, lf), CRLF);
      copyFrom = pos = lineStart = lf + 1;
    }
    if (copyFrom < len) out.push(buf.subarray(copyFrom));
    this.atLineStart = lineStart === len;
    return out;
  }

  /** The end of data: `.CRLF`, after the line end the message lacked, if it did. */
  finish(): Buffer[] {
    if (this.pendingCr) {
      this.pendingCr = false;
      return [LF_ONLY, TERMINATOR];
    }
    return [this.atLineStart ? TERMINATOR : CRLF_TERMINATOR];
  }
}

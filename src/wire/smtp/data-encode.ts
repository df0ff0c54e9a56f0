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

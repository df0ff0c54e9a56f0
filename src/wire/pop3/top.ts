const LF = 0x0a;
const CR = 0x0d;

/**
 * TOP (RFC 1939 section 7): the header, the blank line that ends it, and the first `lines`
 * lines of the body, cut from a whole message. A message without a blank line is all header
 * and is returned whole. Bare LF line ends are understood too, so a message that is not
 * strictly CRLF still yields its header rather than everything.
 */
export function extractTop(message: Uint8Array, lines: number): Buffer {
  const buf = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (!Number.isInteger(lines) || lines < 0) throw new RangeError('lines must be a non-negative integer');
  let pos = 0;
  let bodyStart = -1;
  while (pos < buf.length) {
    const lf = buf.indexOf(LF, pos);
    if (lf < 0) break;
    const isBlank = lf === pos || (lf === pos + 1 && buf[pos] === CR);
    pos = lf + 1;
    if (isBlank) {
      bodyStart = pos;
      break;
    }
  }
  if (bodyStart < 0) return buf;
  let end = bodyStart;
  for (let n = 0; n < lines && end < buf.length; n++) {
    const lf = buf.indexOf(LF, end);
    end = lf < 0 ? buf.length : lf + 1;
  }
  return buf.subarray(0, end);
}

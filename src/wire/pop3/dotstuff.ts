const LF = 0x0a;
const DOT = 0x2e;
const TERMINATOR = Buffer.from('.\r\n');
const CRLF_TERMINATOR = Buffer.from('\r\n.\r\n');
const EXTRA_DOT = Buffer.from('.');

/** Index of the first byte after the next LF at or after `from`, or -1. */
function lineAfter(buf: Buffer, from: number): number {
  const lf = buf.indexOf(LF, from);
  return lf < 0 ? -1 : lf + 1;
}

/**
 * Byte-stuffing for a multi-line response body (RFC 1939 section 3): a line that starts with
 * "." gets another "." in front, and the response ends with ".CRLF" on a line of its own.
 * It works chunk by chunk, so a message can be written in pieces as the socket drains, and it
 * touches nothing but those dots: 8-bit bytes and line ends pass through exactly.
 */
export class DotStuffer {
  private atLineStart = true;
  private endsWithLf = true;

  push(chunk: Uint8Array): Buffer {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) return buf;
    const out: Buffer[] = [];
    let from = 0;
    // `start` walks the line starts inside this chunk; -1 means there is none left.
    let start = this.atLineStart ? 0 : lineAfter(buf, 0);
    while (start >= 0 && start < buf.length) {
      if (buf[start] === DOT) {
        out.push(buf.subarray(from, start), EXTRA_DOT);
        from = start;
      }
      start = lineAfter(buf, start);
    }
    out.push(buf.subarray(from));
    this.endsWithLf = buf[buf.length - 1] === LF;
    this.atLineStart = this.endsWithLf;
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The end of the response; adds a CRLF first when the body did not end with a line end. */
  finish(): Buffer {
    return this.endsWithLf ? TERMINATOR : CRLF_TERMINATOR;
  }
}

/** Dot-stuffs a whole body and appends the terminator. */
export function dotStuff(body: Uint8Array): Buffer {
  const s = new DotStuffer();
  return Buffer.concat([s.push(body), s.finish()]);
}

/**
 * Dot-stuffs a body arriving in chunks, the terminator last: the same bytes as dotStuff() of
 * the whole body however the chunks are cut (the line-start state crosses chunk boundaries).
 * It pulls a chunk only when the previous piece was taken, so the consumer's pace is the
 * source's; returning early (or a consumer error) ends the source's iteration.
 */
export async function* dotStuffStream(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  const s = new DotStuffer();
  for await (const chunk of source) {
    const out = s.push(chunk);
    if (out.length > 0) yield out;
  }
  yield s.finish();
}

/**
 * The client's side: removes the stuffing dot from every line that starts with "." (RFC 1939
 * section 3). `body` is a multi-line response's body without its terminating ".CRLF". Line
 * ends are found by LF alone, as DotStuffer finds them; every other byte is kept. A body
 * without a line start to fix comes back as it is, uncopied.
 */
export function dotUnstuff(body: Buffer): Buffer {
  if (body.indexOf('\n.') < 0 && body[0] !== DOT) return body;
  const parts: Buffer[] = [];
  let from = 0;
  let start = 0;
  while (start >= 0 && start < body.length) {
    if (body[start] === DOT) {
      parts.push(body.subarray(from, start));
      from = start + 1;
    }
    start = lineAfter(body, start);
  }
  parts.push(body.subarray(from));
  return Buffer.concat(parts);
}

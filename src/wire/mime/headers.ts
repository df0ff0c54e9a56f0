/**
 * The header block of an RFC 5322 message or a MIME entity, read from bytes without decoding
 * the body. Fields keep their raw bytes (folding and all), so a field can be copied into another
 * message unchanged; `value` is the unfolded text for comparisons. Bytes are read as latin1, one
 * character per byte, so 8-bit header bytes survive and offsets stay byte offsets.
 */

export interface HeaderField {
  /** The name as written, e.g. `Message-ID`. */
  readonly name: string;
  /** The name in lower case, for case-insensitive lookup. */
  readonly key: string;
  /** The whole field as in the input, continuation lines and final line break included. */
  readonly raw: Uint8Array;
  /** The unfolded value: line breaks before whitespace removed, outer whitespace trimmed. */
  readonly value: string;
}

export interface HeaderBlock {
  readonly fields: readonly HeaderField[];
  /** Offset of the first body byte (after the empty line); the input length when there is no body. */
  readonly bodyStart: number;
  /** Whether the block ended with an empty line (a block without one has no body at all). */
  readonly hasBody: boolean;
}

export class HeaderSyntaxError extends Error {
  constructor(
    message: string,
    /** Byte offset of the offending line. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'HeaderSyntaxError';
  }
}

const LF = 0x0a;
const CR = 0x0d;
/** RFC 5322 3.6.8 ftext: printable US-ASCII except colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * Splits `bytes` into header fields and body. Lines end in CRLF or a bare LF (OpenSSL's
 * S/MIME output uses LF). A line that is neither a field, a continuation nor the empty line is
 * a HeaderSyntaxError; `maxBytes` bounds the header block (a body-less blob of garbage must not
 * be scanned to the end).
 */
export function readHeaderBlock(bytes: Uint8Array, maxBytes = 1024 * 1024): HeaderBlock {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Line ends and colons are only looked for in the first maxBytes + 2 bytes (room for the empty
  // line's CRLF at maxBytes): a garbage blob without line breaks is not scanned to its end.
  const scanned = buf.subarray(0, Math.min(buf.length, maxBytes + 2));
  const tooLong = (at: number) => new HeaderSyntaxError(`header block longer than ${maxBytes} bytes`, at);
  const fields: HeaderField[] = [];
  let fieldStart = -1;
  let pos = 0;
  let lineStart = 0;
  const finish = (end: number): void => {
    if (fieldStart < 0) return;
    fields.push(makeField(buf, fieldStart, end));
    fieldStart = -1;
  };
  while (pos < buf.length) {
    if (pos > maxBytes) throw tooLong(pos);
    lineStart = pos;
    const nl = scanned.indexOf(LF, pos);
    if (nl < 0 && scanned.length < buf.length) throw tooLong(pos);
    const lineEnd = nl < 0 ? buf.length : nl + 1;
    const first = buf[pos]!;
    if (first === LF || (first === CR && buf[pos + 1] === LF)) {
      finish(pos);
      return { fields, bodyStart: lineEnd, hasBody: true };
    }
    if (first === 0x20 || first === 0x09) {
      if (fieldStart < 0) throw new HeaderSyntaxError('continuation line before the first header field', pos);
    } else {
      finish(pos);
      const colon = scanned.indexOf(0x3a, pos);
      if (colon < 0 || colon >= lineEnd || !FIELD_NAME.test(buf.toString('latin1', pos, colon).trimEnd())) {
        throw new HeaderSyntaxError('not a header field (name: value)', pos);
      }
      fieldStart = pos;
    }
    pos = lineEnd;
  }
  // A block without an empty line ends with the input: its last line is past the check above.
  if (buf.length > maxBytes) throw tooLong(lineStart);
  finish(buf.length);
  return { fields, bodyStart: buf.length, hasBody: false };
}

function makeField(buf: Buffer, start: number, end: number): HeaderField {
  const text = buf.toString('latin1', start, end);
  const colon = text.indexOf(':');
  const name = text.slice(0, colon).trimEnd();
  return { name, key: name.toLowerCase(), raw: buf.subarray(start, end), value: unfold(text.slice(colon + 1)) };
}

/** RFC 5322 2.2.3: unfolding removes a CRLF (or LF) that precedes whitespace. */
export function unfold(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n$/, '').trim();
}

/** A value for comparing two copies of a field: unfolded, whitespace runs made one space. */
export function comparableValue(value: string): string {
  return value.replace(/[ \t\r\n]+/g, ' ').trim();
}

/** The first field called `name` (case-insensitive). */
export function findField(fields: readonly HeaderField[], name: string): HeaderField | undefined {
  const key = name.toLowerCase();
  return fields.find((f) => f.key === key);
}

/** Every field called `name` (case-insensitive), in order. */
export function findFields(fields: readonly HeaderField[], name: string): HeaderField[] {
  const key = name.toLowerCase();
  return fields.filter((f) => f.key === key);
}

/**
 * The raw field with CRLF line ends (a field read from an LF-only source is written with CRLF
 * into a message of ours; folding and bytes are otherwise kept).
 */
export function rawWithCrlf(field: HeaderField): string {
  const text = Buffer.from(field.raw).toString('latin1').replace(/\r?\n/g, '\r\n');
  return text.endsWith('\r\n') ? text : text + '\r\n';
}

/** `Name: value` + CRLF. Refuses line breaks in `value`: a field we write never smuggles another. */
export function formatField(name: string, value: string): string {
  if (!FIELD_NAME.test(name)) throw new Error(`invalid header field name ${JSON.stringify(name)}`);
  if (/[\r\n]/.test(value)) throw new Error(`header ${name}: value contains a line break`);
  return `${name}: ${value}\r\n`;
}

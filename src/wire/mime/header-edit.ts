import type { HeaderBlock, HeaderField } from './headers.js';

/**
 * Changes to a message's header block made on its bytes: fields dropped or replaced, fields
 * added in front or at the end of the block. Everything not named keeps its bytes (folding,
 * 8-bit), and the body is not looked at. One copy of the message, however many changes.
 */
export interface HeaderEdit {
  /** Fields to leave out (by identity, as readHeaderBlock returned them). */
  readonly drop?: ReadonlySet<HeaderField>;
  /** Fields to write differently: the whole new field text, CRLF included. */
  readonly replace?: ReadonlyMap<HeaderField, string>;
  /** Whole fields (CRLF included) before the first field. */
  readonly prepend?: readonly string[];
  /** Whole fields (CRLF included) after the last field, before the empty line. */
  readonly append?: readonly string[];
}

/** `message` with `edit` applied; `message` itself when the edit changes nothing. */
export function editHeader(message: Uint8Array, block: HeaderBlock, edit: HeaderEdit): Buffer {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const drop = edit.drop ?? new Set<HeaderField>();
  const replace = edit.replace ?? new Map<HeaderField, string>();
  const prepend = edit.prepend ?? [];
  const append = edit.append ?? [];
  if (drop.size === 0 && replace.size === 0 && prepend.length === 0 && append.length === 0) return buf;

  const parts: Buffer[] = [];
  for (const f of prepend) parts.push(Buffer.from(f, 'latin1'));
  let headEnd = 0;
  // Runs of untouched fields are copied as one slice of the input.
  let runStart = 0;
  for (const f of block.fields) {
    const start = f.raw.byteOffset - buf.byteOffset;
    const end = start + f.raw.byteLength;
    headEnd = end;
    const replacement = replace.get(f);
    if (!drop.has(f) && replacement === undefined) continue;
    if (start > runStart) parts.push(buf.subarray(runStart, start));
    if (replacement !== undefined && !drop.has(f)) parts.push(Buffer.from(replacement, 'latin1'));
    runStart = end;
  }
  if (headEnd > runStart) parts.push(buf.subarray(runStart, headEnd));
  if (append.length > 0) {
    // A header that ends the input without a line break (no body) gets one before the new fields.
    // What counts is the last byte written, not the input's: when that unterminated last field was
    // dropped or replaced, a CRLF here would be an empty line and the new fields would be body.
    const last = parts.findLast((p) => p.length > 0);
    if (last !== undefined && last[last.length - 1] !== 0x0a) parts.push(Buffer.from('\r\n', 'latin1'));
    for (const f of append) parts.push(Buffer.from(f, 'latin1'));
  }
  parts.push(buf.subarray(headEnd));
  return Buffer.concat(parts);
}

/**
 * Bare LF and bare CR made CRLF (RFC 5322's canonical form, in which KOM-LE signs the inner
 * message). Input already in CRLF form is returned as it is, without a copy.
 */
export function canonicalLineEnds(message: Uint8Array): Buffer {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  if (!needsCanonicalising(buf)) return buf;
  const out = Buffer.allocUnsafe(buf.length * 2);
  let o = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
      if (buf[i + 1] === 0x0a) i++;
    } else if (c === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else {
      out[o++] = c;
    }
  }
  return Buffer.from(out.subarray(0, o));
}

function needsCanonicalising(buf: Buffer): boolean {
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) return true;
  for (let i = buf.indexOf(0x0d); i >= 0; i = buf.indexOf(0x0d, i + 1)) if (buf[i + 1] !== 0x0a) return true;
  return false;
}

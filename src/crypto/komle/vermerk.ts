import { isAscii } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mime } from '../../wire/index.js';
import { quotedPrintable } from './quoted-printable.js';

// The client module's notes ("Vermerke") in a decrypted message's text, gemSpec_CM_KOMLE
// KOM-LE-A_2179-01 ("Die Nachricht wurde entschlüsselt.") and KOM-LE-A_2050-05 ("Die Signatur
// wurde erfolgreich geprüft."): appended to the text part in its own format (text/plain or
// text/html), charset and transfer encoding — as in gematik's example, inside the first
// text/plain part of a multipart/mixed message, after a line of 45 '-'. Only the text part(s)
// and the header fields that must change are rewritten; every other byte (attachments, other
// parts' headers, preamble, epilogue) stays identical, which is why the multipart body is cut
// with mime.splitMultipart and not parsed and re-serialised.
//
// Where the note goes:
//   - text/plain or text/html (no Content-Type = text/plain; charset=us-ascii), not
//     Content-Disposition: attachment: into that body;
//   - multipart/alternative: into every text alternative (each mail program shows one);
//   - other multipart (mixed, related, report, digest…): into the first text part, or the first
//     nested multipart holding one, in order; multipart/signed and /encrypted are never touched
//     (their bytes are covered by a signature or are ciphertext) and count as "no text part";
//   - no text part: the outermost multipart (not alternative or related, where a new first part
//     would change what is shown) gets a new first text/plain part; a message that is one
//     non-text entity, or a multipart without a usable structure, is wrapped into a new
//     multipart/mixed: the note first, then the original entity unchanged.
//
// Malformed input never throws:
//   - header block of the message unreadable: the message is returned unchanged (without
//     knowing where the body starts nothing can be spliced safely);
//   - multipart without boundary parameter, with an invalid boundary or without any delimiter
//     line: treated as an opaque entity (wrapped at the top, skipped when nested);
//   - multipart without close delimiter (truncated): at the top the new text part is inserted
//     before the first delimiter line and the parts are not searched; nested, it is skipped;
//   - a part whose header is unreadable, a text part with an unknown Content-Transfer-Encoding
//     or a charset that is not ASCII-compatible (UTF-16/32): skipped, the search goes on.

export interface VermerkOptions {
  /** Multipart levels opened at most (default 8); deeper text parts count as not found. */
  readonly maxDepth?: number;
}

interface Ctx {
  readonly lines: readonly string[];
  readonly eol: string;
  readonly maxDepth: number;
}

/** A MIME entity (the message or a body part) with its header read. */
interface Entity {
  readonly bytes: Buffer;
  readonly fields: readonly mime.HeaderField[];
  /** End of the last header field (the blank line, if any, follows). */
  readonly headerEnd: number;
  readonly bodyStart: number;
  readonly hasBody: boolean;
  readonly type: mime.ContentType;
  /** Content-Transfer-Encoding in lower case; undefined when absent. */
  readonly cte: string | undefined;
}

const SEPARATOR = '-'.repeat(45);
/** Note lines are cut at this many code points: at most 800 octets in UTF-8, far below 998. */
const PLAIN_WRAP = 200;
/** In HTML a code point may become `&#1114111;` (10 octets). */
const HTML_WRAP = 80;
const PART_HEADER_MAX = 64 * 1024;
const LF = 0x0a;

/**
 * `message` (an RFC 5322 message, CRLF or bare-LF line ends) with `lines` appended to its text
 * as described above. Returns the input itself (same bytes) when `lines` is empty or the
 * message's header block is unreadable.
 */
export function appendVermerk(message: Uint8Array, lines: readonly string[], opts: VermerkOptions = {}): Buffer {
  const msg = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  const noteLines = cleanLines(lines);
  if (noteLines.length === 0) return msg;
  const ctx: Ctx = { lines: noteLines, eol: lineEnd(msg), maxDepth: opts.maxDepth ?? 8 };
  const entity = readEntity(msg, 1024 * 1024, 'text/plain');
  if (!entity) return msg;
  return noteEntity(entity, ctx, 0, true) ?? wrap(entity, ctx);
}

/** Line breaks inside a line make more lines; other control characters become spaces. */
function cleanLines(lines: readonly string[]): string[] {
  return lines.flatMap((l) => l.split(/\r\n|\r|\n/)).map((l) => l.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' '));
}

/** The message's own line end (from its first line), so what we add matches it. */
function lineEnd(msg: Buffer): string {
  const nl = msg.indexOf(LF);
  return nl > 0 && msg[nl - 1] !== 0x0d ? '\n' : '\r\n';
}

function readEntity(bytes: Buffer, maxHeader: number, defaultType: string): Entity | undefined {
  let block: mime.HeaderBlock;
  try {
    block = mime.readHeaderBlock(bytes, maxHeader);
  } catch (err) {
    if (err instanceof mime.HeaderSyntaxError) return undefined;
    throw err;
  }
  const ct = mime.findField(block.fields, 'Content-Type');
  const cte = mime.findField(block.fields, 'Content-Transfer-Encoding')?.value.trim().toLowerCase();
  return {
    bytes,
    fields: block.fields,
    headerEnd: block.fields.reduce((n, f) => n + f.raw.length, 0),
    bodyStart: block.bodyStart,
    hasBody: block.hasBody,
    type: ct ? mime.parseContentType(ct.value) : { mediaType: defaultType, params: {} },
    cte,
  };
}

/** The entity with the note in it, or undefined when it holds no text the note can go into. */
function noteEntity(e: Entity, ctx: Ctx, depth: number, top: boolean): Buffer | undefined {
  const type = e.type.mediaType;
  if (type === 'text/plain' || type === 'text/html') {
    const disposition = mime.findField(e.fields, 'Content-Disposition');
    if (disposition && mime.parseContentType(disposition.value).mediaType === 'attachment') return undefined;
    return noteText(e, ctx, top);
  }
  if (type.startsWith('multipart/')) return noteMultipart(e, ctx, depth, top);
  return undefined;
}

function noteMultipart(e: Entity, ctx: Ctx, depth: number, top: boolean): Buffer | undefined {
  const subtype = e.type.mediaType.slice('multipart/'.length);
  if (subtype === 'signed' || subtype === 'encrypted' || depth >= ctx.maxDepth) return undefined;
  const boundary = e.type.params['boundary'];
  if (boundary === undefined) return undefined;
  const body = e.bytes.subarray(e.bodyStart);
  const split = mime.splitMultipart(body, boundary);
  // Only at the top, and not in alternative (a first alternative is the least preferred, not shown)
  // or related (a first part is the root): there a new part would hide the note or the message.
  const mayInsert = top && subtype !== 'alternative' && subtype !== 'related';
  if (!split.ok) {
    if (split.reason === 'no-close-delimiter' && mayInsert) return withBody(e, insertFirstPart(body, split.delimiters[0]!.line, boundary, ctx));
    return undefined;
  }
  const childType = subtype === 'digest' ? 'message/rfc822' : 'text/plain';
  const edits: Edit[] = [];
  for (const range of split.parts) {
    const child = readEntity(body.subarray(range.start, range.end), PART_HEADER_MAX, childType);
    const noted = child && noteEntity(child, ctx, depth + 1, false);
    if (!noted) continue;
    edits.push({ range, bytes: noted });
    if (subtype !== 'alternative') break;
  }
  if (edits.length > 0) return withBody(e, splice(body, edits));
  return mayInsert ? withBody(e, insertFirstPart(body, split.delimiters[0]!.line, boundary, ctx)) : undefined;
}

interface Edit {
  readonly range: mime.ByteRange;
  readonly bytes: Buffer;
}

/** `body` with each edit's range (in order, not overlapping) replaced by its bytes. */
function splice(body: Buffer, edits: readonly Edit[]): Buffer {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const edit of edits) {
    pieces.push(body.subarray(at, edit.range.start), edit.bytes);
    at = edit.range.end;
  }
  pieces.push(body.subarray(at));
  return Buffer.concat(pieces);
}

function withBody(e: Entity, body: Buffer): Buffer {
  return Buffer.concat([e.bytes.subarray(0, e.bodyStart), body]);
}

/** A new text/plain part holding the note, in front of the delimiter line at `line`. */
function insertFirstPart(body: Buffer, line: number, boundary: string, ctx: Ctx): Buffer {
  return Buffer.concat([body.subarray(0, line), notePart(boundary, ctx), body.subarray(line)]);
}

/**
 * Delimiter line, header and note of a new part, up to the line break that belongs to the
 * delimiter that must follow.
 */
function notePart(boundary: string, ctx: Ctx): Buffer {
  const { eol } = ctx;
  const head = `--${boundary}${eol}Content-Type: text/plain; charset=utf-8${eol}Content-Transfer-Encoding: 8bit${eol}${eol}`;
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(plainNote(ctx) + eol, 'utf8')]);
}

/**
 * A message that is one entity without usable text, as multipart/mixed: the note, then the
 * entity — its Content-* fields and its body unchanged. The other header fields keep their
 * order; the new Content-Type stands where the first Content-* field stood.
 */
function wrap(e: Entity, ctx: Ctx): Buffer {
  const { eol } = ctx;
  let boundary: string;
  do boundary = `=_postamt_vermerk_${randomBytes(12).toString('hex')}`;
  while (e.bytes.includes(boundary));
  const contentType = `${mime.findField(e.fields, 'MIME-Version') ? '' : `MIME-Version: 1.0${eol}`}Content-Type: multipart/mixed; boundary="${boundary}"${eol}`;
  const outer: Buffer[] = [];
  const inner: Buffer[] = [];
  let placed = false;
  for (const f of e.fields) {
    if (!f.key.startsWith('content-')) {
      outer.push(withLineEnd(f.raw, eol));
      continue;
    }
    inner.push(withLineEnd(f.raw, eol));
    if (!placed) outer.push(Buffer.from(contentType, 'latin1'));
    placed = true;
  }
  if (!placed) outer.push(Buffer.from(contentType, 'latin1'));
  const blank = e.hasBody ? e.bytes.subarray(e.headerEnd, e.bodyStart) : Buffer.from(eol, 'latin1');
  return Buffer.concat([
    ...outer,
    Buffer.from(eol, 'latin1'),
    notePart(boundary, ctx),
    Buffer.from(`--${boundary}${eol}`, 'latin1'),
    ...inner,
    blank,
    e.bytes.subarray(e.bodyStart),
    Buffer.from(`${eol}--${boundary}--${eol}`, 'latin1'),
  ]);
}

function withLineEnd(raw: Uint8Array, eol: string): Buffer {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return b[b.length - 1] === LF ? b : Buffer.concat([b, Buffer.from(eol, 'latin1')]);
}

// ---- the text part ----

type Family = 'ascii' | 'utf8' | 'latin1' | 'other' | 'unusable';

const ASCII_NAMES = new Set(['', 'us-ascii', 'ascii', 'us', 'ansi_x3.4-1968', 'iso646-us']);
const UTF8_NAMES = new Set(['utf-8', 'utf8']);
// The German letters (ä ö ü ß Ä Ö Ü) are the same bytes in all three.
const LATIN1_NAMES = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'latin-1', 'l1', 'iso-8859-15', 'iso8859-15', 'latin-9', 'latin9', 'windows-1252', 'cp1252']);

function charsetFamily(charset: string): Family {
  if (ASCII_NAMES.has(charset)) return 'ascii';
  if (UTF8_NAMES.has(charset)) return 'utf8';
  if (LATIN1_NAMES.has(charset)) return 'latin1';
  // ASCII bytes would not be ASCII text there.
  if (/^(utf-?(16|32)|ucs-?[24])/.test(charset)) return 'unusable';
  return 'other';
}

interface FieldChanges {
  contentType?: string;
  cte?: string;
}

/** A text/plain or text/html entity with the note in its body, or undefined when its encoding is not one we can extend. */
function noteText(e: Entity, ctx: Ctx, top: boolean): Buffer | undefined {
  const cte = e.cte ?? '7bit';
  if (!['7bit', '8bit', 'binary', 'quoted-printable', 'base64'].includes(cte)) return undefined;
  const family = charsetFamily((e.type.params['charset'] ?? '').trim().toLowerCase());
  if (family === 'unusable') return undefined;
  const body = e.bytes.subarray(e.bodyStart);
  const decoded = cte === 'base64' ? (mime.decodeBase64Body(body) ?? Buffer.alloc(0)) : undefined;
  const html = e.type.mediaType === 'text/html';
  const changes: FieldChanges = {};

  let note: Buffer;
  if (html) {
    note = Buffer.from(htmlNote(ctx), 'latin1'); // ASCII only: any ASCII-compatible charset reads it
  } else {
    let encoding: 'utf8' | 'latin1' | 'ascii' = family === 'utf8' ? 'utf8' : family === 'latin1' ? 'latin1' : 'ascii';
    if (family === 'ascii' && asciiContent(body, cte, decoded)) {
      // US-ASCII is a subset of UTF-8: relabelled, the body means the same and the umlauts fit.
      const relabelled = contentTypeWithCharset(e.type, 'utf-8', ctx.eol);
      if (relabelled !== undefined) {
        changes.contentType = relabelled;
        encoding = 'utf8';
      }
    }
    note = encodeText(plainNote(ctx), encoding);
  }
  // 7bit (or none, which means 7bit) promises ASCII; 8-bit note bytes make the part 8bit.
  if (cte === '7bit' && !isAscii(note)) changes.cte = '8bit';

  let newBody: Buffer;
  if (cte === 'base64') newBody = base64Body(body, html ? insertHtml(decoded!, note, ctx.eol) : appendPlain(decoded!, note, ctx.eol), ctx.eol);
  else if (cte === 'quoted-printable') newBody = html ? insertHtmlQp(body, note, ctx.eol) : appendQp(body, note, ctx.eol);
  else newBody = html ? insertHtml(body, note, ctx.eol) : appendPlain(body, note, ctx.eol);
  return Buffer.concat([header(e, changes, top, ctx.eol), newBody]);
}

/** Whether the body is plain ASCII (so relabelling US-ASCII to UTF-8 keeps its meaning). */
function asciiContent(body: Buffer, cte: string, decoded: Buffer | undefined): boolean {
  if (decoded) return isAscii(decoded);
  if (!isAscii(body)) return false;
  return cte !== 'quoted-printable' || !/=[89a-f][0-9a-f]/i.test(body.toString('latin1'));
}

function endsWithLine(bytes: Buffer): boolean {
  return bytes.length === 0 || bytes[bytes.length - 1] === LF;
}

// The note is appended as the text's last lines, and the text keeps its shape: one that ended
// with a line break ends with one after the note, one that did not (a part's last CRLF belongs
// to the delimiter after it) ends with the note's last line — as in gematik's example.

/** The body, a line break if its last line has none, the note (and a line break if the body ended with one). */
function appendPlain(body: Buffer, note: Buffer, eol: string): Buffer {
  const ended = endsWithLine(body);
  return Buffer.concat([body, Buffer.from(ended ? '' : eol, 'latin1'), note, Buffer.from(ended ? eol : '', 'latin1')]);
}

/** The HTML note before the last `</body>` (on lines of its own), or at the end. */
function insertHtml(body: Buffer, note: Buffer, eol: string): Buffer {
  const at = body.toString('latin1').toLowerCase().lastIndexOf('</body>');
  if (at < 0) return appendPlain(body, note, eol);
  const before = body.subarray(0, at);
  return Buffer.concat([before, Buffer.from(endsWithLine(before) ? '' : eol, 'latin1'), note, Buffer.from(eol, 'latin1'), body.subarray(at)]);
}

/**
 * A quoted-printable body with the note appended. The note must start on a line of its own: a
 * body ending in a soft line break (`=` CRLF) gets a hard one, one ending in a bare `=` two (the
 * first makes it a soft break). Only a hard line break at the end counts as the text ending with one.
 */
function appendQp(body: Buffer, note: Buffer, eol: string): Buffer {
  const last = body[body.length - 1];
  const lineEndAt = body[body.length - 2] === 0x0d ? body.length - 2 : body.length - 1;
  const hardEnd = body.length === 0 || (last === LF && body[lineEndAt - 1] !== 0x3d);
  const before = hardEnd ? '' : last === 0x3d ? eol + eol : eol;
  return Buffer.concat([body, Buffer.from(before + quotedPrintable(note, eol) + (hardEnd ? eol : ''), 'latin1')]);
}

function insertHtmlQp(body: Buffer, note: Buffer, eol: string): Buffer {
  const at = body.toString('latin1').toLowerCase().lastIndexOf('</body>');
  if (at < 0) return appendQp(body, note, eol);
  const before = body.subarray(0, at);
  return Buffer.concat([before, Buffer.from((endsWithLine(before) ? '' : eol) + quotedPrintable(note, eol) + eol, 'latin1'), body.subarray(at)]);
}

/** `text` (decoded) re-encoded in base64 lines of 76; the last line break kept only if the old body had one. */
function base64Body(old: Buffer, text: Buffer, eol: string): Buffer {
  let encoded = mime.encodeBase64Lines(text).toString('latin1');
  if (eol === '\n') encoded = encoded.replace(/\r\n/g, '\n');
  if (!endsWithLine(old) && encoded.endsWith(eol)) encoded = encoded.slice(0, -eol.length);
  return Buffer.from(encoded, 'latin1');
}

/** The header block with `changes` applied in place (missing fields added at the end) and its blank line. */
function header(e: Entity, changes: FieldChanges, top: boolean, eol: string): Buffer {
  const out: Buffer[] = [];
  const pending = new Map<string, string>();
  if (changes.contentType !== undefined) pending.set('content-type', changes.contentType);
  if (changes.cte !== undefined) pending.set('content-transfer-encoding', changes.cte);
  const changed = pending.size > 0;
  for (const f of e.fields) {
    const value = pending.get(f.key);
    if (value === undefined) out.push(withLineEnd(f.raw, eol));
    else {
      out.push(Buffer.from(`${f.name}: ${value}${eol}`, 'latin1'));
      pending.delete(f.key);
    }
  }
  // A Content-Type in a message without MIME-Version is not MIME (RFC 2045 4).
  if (top && changed && !mime.findField(e.fields, 'MIME-Version')) out.push(Buffer.from(`MIME-Version: 1.0${eol}`, 'latin1'));
  if (pending.has('content-type')) out.push(Buffer.from(`Content-Type: ${pending.get('content-type')}${eol}`, 'latin1'));
  if (pending.has('content-transfer-encoding')) out.push(Buffer.from(`Content-Transfer-Encoding: ${pending.get('content-transfer-encoding')}${eol}`, 'latin1'));
  out.push(e.hasBody ? e.bytes.subarray(e.headerEnd, e.bodyStart) : Buffer.from(eol, 'latin1'));
  return Buffer.concat(out);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The Content-Type value with `charset` replaced (or added), the other parameters kept, folded
 * so no line passes 78 characters; undefined when a parameter cannot be written back safely.
 */
function contentTypeWithCharset(type: mime.ContentType, charset: string, eol: string): string | undefined {
  let value = `${type.mediaType}; charset=${charset}`;
  let lineLength = 'Content-Type: '.length + value.length;
  for (const [name, v] of Object.entries(type.params)) {
    if (name === 'charset') continue;
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) return undefined;
    const param = `${name}=${TOKEN.test(v) ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`}`;
    if (param.length > 900) return undefined;
    if (lineLength + 2 + param.length > 78) {
      value += `;${eol}\t${param}`;
      lineLength = 1 + param.length;
    } else {
      value += `; ${param}`;
      lineLength += 2 + param.length;
    }
  }
  return value;
}

// ---- the note itself ----

/** The separator line and one line per note line, without a line break after the last. */
function plainNote(ctx: Ctx): string {
  return [SEPARATOR, ...ctx.lines.flatMap((l) => wrapLine(l, PLAIN_WRAP))].join(ctx.eol);
}

/** `<hr>` and a paragraph of the note lines, ASCII only (non-ASCII as numeric character references), without a final line break. */
function htmlNote(ctx: Ctx): string {
  const { eol } = ctx;
  const body = ctx.lines.map((l) => wrapLine(l, HTML_WRAP).map(escapeHtml).join(eol)).join(`<br>${eol}`);
  return `<hr>${eol}<p>${body}</p>`;
}

function escapeHtml(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else out += cp < 0x80 ? ch : `&#${cp};`;
  }
  return out;
}

/** `line` in pieces of at most `max` code points, cut after a space where there is one. */
function wrapLine(line: string, max: number): string[] {
  const cps = Array.from(line);
  const pieces: string[] = [];
  while (cps.length > max) {
    const space = cps.lastIndexOf(' ', max - 1);
    pieces.push(cps.splice(0, space > 0 ? space + 1 : max).join(''));
  }
  pieces.push(cps.join(''));
  return pieces;
}

function encodeText(text: string, encoding: 'utf8' | 'latin1' | 'ascii'): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  if (encoding === 'ascii') return Buffer.from(transliterate(text), 'latin1');
  // Latin-1 letters (U+00C0–U+00FF) are the same bytes in ISO-8859-1, -15 and windows-1252; the rest is transliterated.
  return Buffer.from(text.replace(/[^\x00-\x7f\u00c0-\u00ff]/gu, transliterate), 'latin1');
}

function transliterate(text: string): string {
  return text
    .replace(/ä/g, 'ae')
    .replace(/ö/g, 'oe')
    .replace(/ü/g, 'ue')
    .replace(/Ä/g, 'Ae')
    .replace(/Ö/g, 'Oe')
    .replace(/Ü/g, 'Ue')
    .replace(/ß/g, 'ss')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x00-\x7f]/gu, '?');
}

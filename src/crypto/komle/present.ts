import { randomBytes } from 'node:crypto';
import { mime } from '../../wire/index.js';
import { RESULT_FIELDS } from './constants.js';
import type { OpenResult } from './open.js';
import { DECRYPTION_RESULTS, FEHLERMELDUNGEN, INTEGRITY_RESULTS } from './result-codes.js';

export interface PresentOptions {
  /**
   * Append the note ("Die Nachricht wurde entschlüsselt." …) to the text (default true). Without
   * it the inner message's body reaches the PS byte for byte.
   */
  readonly note?: boolean;
  /** Date of the failure message when the outer message has none (default now). */
  readonly now?: Date;
}

const TRACE = new Set(['return-path', 'received']);

/**
 * What the PS receives over POP3 for a message `openMessage` looked at (gemSpec_CM_KOMLE):
 * a non-KOM-LE message unchanged; a decrypted one as the inner message with the outer trace
 * fields (Return-Path, Received) and the result fields in front, any result fields the sender
 * put inside removed, and the note appended; an undecryptable one as a failure message.
 */
export function presentForPrimarySystem(outerRaw: Uint8Array, result: OpenResult, opts: PresentOptions = {}): Buffer {
  if (!result.komle) return Buffer.from(outerRaw.buffer, outerRaw.byteOffset, outerRaw.byteLength);
  if (result.decryption !== '00' || !result.inner || !result.innerFields) return failureMessage(outerRaw, result, opts);

  const head: string[] = result.outerFields.filter((f) => TRACE.has(f.key)).map(mime.rawWithCrlf);
  head.push(mime.formatField('X-KIM-DecryptionResult', '00'));
  head.push(mime.formatField('X-KIM-IntegrityCheckResult', result.integrity ?? '07'));
  if (result.fehlermeldung) head.push(mime.formatField('X-KIM-Fehlermeldung', result.fehlermeldung));
  // The sender's own header fields, minus result fields it may have forged to look verified.
  const innerHead = result.innerFields.filter((f) => !(RESULT_FIELDS as readonly string[]).includes(f.key)).map(mime.rawWithCrlf);
  const block = mime.readHeaderBlock(result.inner);
  const body = result.inner.subarray(block.bodyStart);
  const bodyWithNote = opts.note === false ? body : appendNote(result.innerFields, body, noteText(result));
  return Buffer.concat([Buffer.from(head.join('') + innerHead.join('') + '\r\n', 'latin1'), bodyWithNote]);
}

function noteText(result: OpenResult): string {
  const lines = ['Die Nachricht wurde entschlüsselt.'];
  if (result.integrity === '00') lines.push('Die Signatur wurde erfolgreich geprüft.');
  else {
    const failed = result.checks.find((c) => !c.ok);
    lines.push(`Die Prüfung der Nachricht ist fehlgeschlagen (X-KIM-IntegrityCheckResult ${result.integrity}: ${INTEGRITY_RESULTS[result.integrity ?? '07']}).`);
    if (failed) lines.push(`Grund: ${failed.detail}`);
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * Appends the note where it can be added without re-encoding anything: to a text/plain body in
 * 7bit/8bit (UTF-8, or ASCII transliterated for US-ASCII, Latin-1 encoded for ISO-8859-1), or as
 * a new text/plain part of a multipart body. Other bodies stay as they are; the result fields
 * carry the outcome anyway.
 */
function appendNote(fields: readonly mime.HeaderField[], body: Uint8Array, note: string): Uint8Array {
  const type = mime.parseContentType(mime.findField(fields, 'Content-Type')?.value);
  const cte = (mime.findField(fields, 'Content-Transfer-Encoding')?.value ?? '7bit').toLowerCase();
  if (type.mediaType === 'text/plain' && cte === 'quoted-printable') {
    // Most mail programs send umlauts quoted-printable; the note is encoded the same way.
    const charset = (type.params['charset'] ?? 'us-ascii').toLowerCase();
    const bytes = charset === 'utf-8' || charset === 'utf8' ? Buffer.from(note, 'utf8') : Buffer.from(charset === 'us-ascii' ? transliterate(note) : note, 'latin1');
    const sep = body.length === 0 || body[body.length - 1] === 0x0a ? '\r\n' : '=\r\n\r\n';
    return Buffer.concat([body, Buffer.from(sep + quotedPrintable(bytes), 'latin1')]);
  }
  if (type.mediaType === 'text/plain' && (cte === '7bit' || cte === '8bit')) {
    const charset = (type.params['charset'] ?? 'us-ascii').toLowerCase();
    const encoded =
      charset === 'utf-8' || charset === 'utf8'
        ? Buffer.from(note, 'utf8')
        : charset === 'iso-8859-1' || charset === 'latin1' || charset === 'iso-8859-15'
          ? Buffer.from(note, 'latin1')
          : cte === '7bit' || charset === 'us-ascii'
            ? Buffer.from(transliterate(note), 'latin1')
            : undefined;
    if (!encoded) return body;
    const sep = body.length === 0 || body[body.length - 1] === 0x0a ? '\r\n' : '\r\n\r\n';
    return Buffer.concat([body, Buffer.from(sep, 'latin1'), encoded]);
  }
  const boundary = type.params['boundary'];
  if (type.mediaType.startsWith('multipart/') && boundary) {
    const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const close = buf.lastIndexOf(`--${boundary}--`);
    if (close <= 0 || (buf[close - 1] !== 0x0a)) return body;
    const part = `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`;
    return Buffer.concat([buf.subarray(0, close), Buffer.from(part, 'latin1'), Buffer.from(note, 'utf8'), buf.subarray(close)]);
  }
  return body;
}

/** RFC 2045 6.7 for a short text of CRLF-separated lines; long lines get soft breaks at 76. */
function quotedPrintable(bytes: Buffer): string {
  let out = '';
  let lineLength = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d && bytes[i + 1] === 0x0a) {
      out += '\r\n';
      lineLength = 0;
      i++;
      continue;
    }
    const token = (b >= 0x21 && b <= 0x7e && b !== 0x3d) || b === 0x20 ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0');
    if (lineLength + token.length > 75) {
      out += '=\r\n';
      lineLength = 0;
    }
    out += token;
    lineLength += token.length;
  }
  return out;
}

function transliterate(text: string): string {
  return text.replace(/ä/g, 'ae').replace(/ö/g, 'oe').replace(/ü/g, 'ue').replace(/Ä/g, 'Ae').replace(/Ö/g, 'Oe').replace(/Ü/g, 'Ue').replace(/ß/g, 'ss').replace(/[^\x00-\x7f]/g, '?');
}

/**
 * The failure message for an undecryptable KOM-LE message: multipart/mixed with an explaining
 * text part and the original as message/rfc822, X-KIM-DecryptionResult and X-KIM-Fehlermeldung,
 * addressed like the original so the PS files it with the right correspondence.
 */
export function failureMessage(outerRaw: Uint8Array, result: OpenResult, opts: PresentOptions = {}): Buffer {
  const original = Buffer.from(outerRaw.buffer, outerRaw.byteOffset, outerRaw.byteLength);
  let boundary: string;
  do boundary = `=_postamt_${randomBytes(12).toString('hex')}`;
  while (original.includes(boundary));

  const decryption = result.decryption ?? '02';
  const fehlermeldung = result.fehlermeldung ?? '4010';
  const head: string[] = result.outerFields.filter((f) => TRACE.has(f.key)).map(mime.rawWithCrlf);
  head.push(mime.formatField('X-KIM-DecryptionResult', decryption));
  head.push(mime.formatField('X-KIM-Fehlermeldung', fehlermeldung));
  const date = mime.findField(result.outerFields, 'Date');
  head.push(date ? mime.rawWithCrlf(date) : mime.formatField('Date', mime.formatRfc5322Date(opts.now ?? new Date())));
  for (const name of ['From', 'To', 'Cc', 'Message-ID']) for (const f of mime.findFields(result.outerFields, name)) head.push(mime.rawWithCrlf(f));
  head.push(mime.formatField('Subject', '=?utf-8?Q?Die_Nachricht_konnte_nicht_entschl=C3=BCsselt_werden?='));
  head.push('MIME-Version: 1.0\r\n');
  head.push(mime.formatField('Content-Type', `multipart/mixed; boundary="${boundary}"`));
  head.push('\r\n');

  const failed = result.checks.filter((c) => !c.ok).map((c) => `- ${c.name}: ${c.detail}`);
  const text = [
    'Die KIM-Nachricht konnte nicht entschlüsselt werden.',
    '',
    `X-KIM-DecryptionResult ${decryption}: ${DECRYPTION_RESULTS[decryption]}`,
    `X-KIM-Fehlermeldung ${fehlermeldung}: ${FEHLERMELDUNGEN[fehlermeldung]}`,
    '',
    ...failed,
    '',
    'Die empfangene Nachricht ist unverändert angehängt.',
    '',
  ].join('\r\n');
  const parts = Buffer.from(
    `This is a multi-part message in MIME format.\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${Buffer.from(text, 'utf8').toString('latin1')}\r\n--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=original.eml\r\n\r\n`,
    'latin1',
  );
  const tail = Buffer.from(`${original.length && original[original.length - 1] === 0x0a ? '' : '\r\n'}--${boundary}--\r\n`, 'latin1');
  return Buffer.concat([Buffer.from(head.join(''), 'latin1'), parts, original, tail]);
}

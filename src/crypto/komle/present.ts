import { randomBytes } from 'node:crypto';
import { mime } from '../../wire/index.js';
import { KOMLE_VERSIONS, RESULT_FIELDS } from './constants.js';
import type { OpenResult } from './open.js';
import { quotedPrintable } from './quoted-printable.js';
import {
  DECRYPTION_RESULTS,
  FEHLERMELDUNGEN,
  INTEGRITY_RESULTS,
  SICHERHEITSVERLETZUNG,
  SICHERHEITSVERLETZUNG_EMBEDDED,
  SUBJECT_NOT_DECRYPTED,
  SUBJECT_VERSION_UNSUPPORTED,
  VERMERK_DECRYPTED,
  VERMERK_SIGNATURE_VALID,
  type IntegrityResult,
} from './result-codes.js';
import { appendVermerk } from './vermerk.js';

/**
 * What the PS gets after a failed integrity check (A_23165):
 * - `replace`: the body replaced by the fixed "Sicherheitsverletzung" text (gemSpec_CM_KOMLE 1.16);
 * - `embed`: that text plus the decrypted original as message/rfc822 (gematik's FAQ on A_23165);
 * - `original`: the decrypted original with the result fields (the alternative A_23165 requires
 *   to be configurable, e.g. so no confirmed eAU is lost).
 */
export type IntegrityFailureMode = 'replace' | 'embed' | 'original';

export interface PresentOptions {
  /** Append the Vermerke (KOM-LE-A_2179-01, KOM-LE-A_2050-05) to the text (default true). */
  readonly note?: boolean;
  /** Default `replace`. */
  readonly integrityFailure?: IntegrityFailureMode;
  /** The fetching user's address, for the failure texts' "(<Email Adresse>)". */
  readonly recipientAddress?: string;
  /** Date of a failure message when the received one has none (default now). */
  readonly now?: Date;
}

/** Fields the received (outer) message hands on to what the PS gets: A_21236 and A_20628. */
const TRACE = new Set(['return-path', 'received']);
/** orig-date, from, sender, reply-to, to, cc (KOM-LE-A_2046, A_21391-02) and the Message-ID. */
const FAILURE_FIELDS = ['Date', 'From', 'Sender', 'Reply-To', 'To', 'Cc', 'Message-ID'] as const;
const SEPARATOR_TEXT = 'Ergänzende Informationen:';

/**
 * What the PS receives over POP3 for a message `openMessage` looked at (gemSpec_CM_KOMLE
 * 3.4.4.2): a non-KOM-LE message unchanged (A_21390); an unsupported version or an undecryptable
 * message as a failure message (A_21391-02, KOM-LE-A_2046); a decrypted one as the inner message
 * with the outer trace fields in front, the result fields (several values repeat the field), any
 * result fields the sender put inside removed, and the Vermerke in its text; after a failed
 * integrity check as A_23165 and `integrityFailure` say.
 */
export function presentForPrimarySystem(outerRaw: Uint8Array, result: OpenResult, opts: PresentOptions = {}): Buffer {
  if (!result.komle) return Buffer.from(outerRaw.buffer, outerRaw.byteOffset, outerRaw.byteLength);
  if (result.versionUnsupported) return versionFailureMessage(outerRaw, result, opts);
  if (result.decryption !== '00' || !result.inner || !result.innerFields) return failureMessage(outerRaw, result, opts);

  const head = resultHead(result);
  const inner = withoutForgedResults(result.inner, result.innerFields);
  if (result.ok) {
    const presented = opts.note === false ? inner : appendVermerk(inner, [VERMERK_DECRYPTED, VERMERK_SIGNATURE_VALID]);
    return Buffer.concat([Buffer.from(head, 'latin1'), presented]);
  }
  switch (opts.integrityFailure ?? 'replace') {
    case 'original': {
      const presented = opts.note === false ? inner : appendVermerk(inner, [VERMERK_DECRYPTED, ...integrityLines(result)]);
      return Buffer.concat([Buffer.from(head, 'latin1'), presented]);
    }
    case 'embed':
      return embeddedFailure(head, result, inner);
    case 'replace':
      return replacedBody(head, result);
  }
}

/** Return-Path and Received of the received message, then the result fields. */
function resultHead(result: OpenResult): string {
  const head = result.outerFields.filter((f) => TRACE.has(f.key)).map(mime.rawWithCrlf);
  head.push(mime.formatField('X-KIM-DecryptionResult', '00'));
  for (const code of result.integrityResults) head.push(mime.formatField('X-KIM-IntegrityCheckResult', code));
  for (const code of result.fehlermeldungen) head.push(mime.formatField('X-KIM-Fehlermeldung', code));
  return head.join('');
}

/** The inner message without result fields the sender may have forged to look verified. */
function withoutForgedResults(inner: Uint8Array, fields: readonly mime.HeaderField[]): Buffer {
  const bytes = Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength);
  if (!fields.some((f) => (RESULT_FIELDS as readonly string[]).includes(f.key))) return bytes;
  const kept = fields.filter((f) => !(RESULT_FIELDS as readonly string[]).includes(f.key)).map(mime.rawWithCrlf).join('');
  return Buffer.concat([Buffer.from(kept + '\r\n', 'latin1'), bytes.subarray(mime.readHeaderBlock(bytes).bodyStart)]);
}

function integrityLines(result: OpenResult): string[] {
  const lines = result.integrityResults.map((code: IntegrityResult) => `[Integritätsprüfung] [ID ${code}] ${INTEGRITY_RESULTS[code].result}`);
  for (const code of result.fehlermeldungen) lines.push(`[X-KIM-Fehlermeldung ${code}] ${FEHLERMELDUNGEN[code]}.`);
  for (const c of result.checks) if (!c.ok) lines.push(`Technische Angabe (${c.name}): ${c.detail}`);
  return lines;
}

/** The inner header without the fields that describe its body (the body is replaced). */
function headerWithoutContent(result: OpenResult): string {
  return (result.innerFields ?? [])
    .filter((f) => !f.key.startsWith('content-') && f.key !== 'mime-version' && !(RESULT_FIELDS as readonly string[]).includes(f.key))
    .map(mime.rawWithCrlf)
    .join('');
}

function supplementary(result: OpenResult): string[] {
  return ['', SEPARATOR_TEXT, VERMERK_DECRYPTED, ...integrityLines(result)];
}

/** A_23165 as gemSpec_CM_KOMLE 1.16 writes it: the decrypted body replaced by the fixed text. */
function replacedBody(head: string, result: OpenResult): Buffer {
  const text = [SICHERHEITSVERLETZUNG, ...supplementary(result)].join('\r\n') + '\r\n';
  const fields = 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n';
  return Buffer.concat([Buffer.from(head + headerWithoutContent(result) + fields, 'latin1'), Buffer.from(quotedPrintable(Buffer.from(text, 'utf8')), 'latin1')]);
}

/** gematik's FAQ on A_23165: the fixed text and the decrypted original as message/rfc822. */
function embeddedFailure(head: string, result: OpenResult, inner: Buffer): Buffer {
  const text = [SICHERHEITSVERLETZUNG, '', SICHERHEITSVERLETZUNG_EMBEDDED, ...supplementary(result)].join('\r\n') + '\r\n';
  return mixedWithOriginal(Buffer.from(head + headerWithoutContent(result), 'latin1'), text, inner, 'entschluesselte-nachricht.eml');
}

/**
 * KOM-LE-A_2046 / KOM-LE-A_2047-02: the failure message for an undecryptable KOM-LE message —
 * multipart/mixed with the table's text (the fetching user's address filled in) and the received
 * message as message/rfc822, orig-date, from, sender, reply-to, to, cc taken over, the subject
 * "Die Nachricht konnte nicht entschlüsselt werden", X-KIM-DecryptionResult and X-KIM-Fehlermeldung.
 */
export function failureMessage(outerRaw: Uint8Array, result: OpenResult, opts: PresentOptions = {}): Buffer {
  const decryption = result.decryption ?? '02';
  const fehlermeldungen = result.fehlermeldungen.length ? result.fehlermeldungen : (['4010'] as const);
  const entry = DECRYPTION_RESULTS[decryption];
  const address = opts.recipientAddress ?? mime.findFields(result.outerFields, 'To').flatMap((f) => mime.addressesIn(f.value))[0] ?? 'Ihre KIM-Adresse';
  const text = [
    `[ID ${decryption}] ${entry.text.replace('<Email Adresse>', address)}`,
    '',
    SEPARATOR_TEXT,
    `X-KIM-DecryptionResult: ${decryption} (${entry.condition})`,
    ...fehlermeldungen.map((c) => `X-KIM-Fehlermeldung: ${c} (${FEHLERMELDUNGEN[c]})`),
    ...result.checks.filter((c) => !c.ok).map((c) => `Technische Angabe (${c.name}): ${c.detail}`),
  ].join('\r\n');
  const head = [mime.formatField('X-KIM-DecryptionResult', decryption), ...fehlermeldungen.map((c) => mime.formatField('X-KIM-Fehlermeldung', c))];
  return failureWithOriginal(outerRaw, result, SUBJECT_NOT_DECRYPTED, head, text + '\r\n', opts);
}

/** A_21391-02: the received message names a KIM version this client module does not process. */
function versionFailureMessage(outerRaw: Uint8Array, result: OpenResult, opts: PresentOptions): Buffer {
  const version = (result.komLeVersion ?? '').trim();
  const text = [
    `Das verwendete Clientmodul unterstützt die in der empfangenen Nachricht angegebene KIM-Version ${version} nicht.`,
    `Das verwendete Clientmodul unterstützt nur Nachrichten der KIM-Versionen ${KOMLE_VERSIONS.join(' und ')}.`,
    '',
    'Es wird empfohlen, das verwendete Clientmodul zu aktualisieren! Leiten Sie diese Mail an Ihre eigene KIM-E-Mail-Adresse weiter, ' +
      'um die Nachrichtenverarbeitung beim nächsten Abruf der Nachricht zu wiederholen.',
  ].join('\r\n');
  return failureWithOriginal(outerRaw, result, SUBJECT_VERSION_UNSUPPORTED, [mime.formatField('X-KIM-Fehlermeldung', '4008')], text + '\r\n', opts);
}

function failureWithOriginal(outerRaw: Uint8Array, result: OpenResult, subject: string, resultFields: string[], text: string, opts: PresentOptions): Buffer {
  const head: string[] = result.outerFields.filter((f) => TRACE.has(f.key)).map(mime.rawWithCrlf);
  head.push(...resultFields);
  for (const name of FAILURE_FIELDS) for (const f of mime.findFields(result.outerFields, name)) head.push(mime.rawWithCrlf(f));
  if (!mime.findField(result.outerFields, 'Date')) head.push(mime.formatField('Date', mime.formatRfc5322Date(opts.now ?? new Date())));
  head.push(mime.formatField('Subject', encodedWord(subject)));
  const original = Buffer.from(outerRaw.buffer, outerRaw.byteOffset, outerRaw.byteLength);
  return mixedWithOriginal(Buffer.from(head.join(''), 'latin1'), text, original, 'original.eml');
}

/** header + MIME-Version + multipart/mixed { text/plain (quoted-printable UTF-8), message/rfc822 original }. */
function mixedWithOriginal(head: Buffer, text: string, original: Buffer, filename: string): Buffer {
  let boundary: string;
  do boundary = `=_postamt_${randomBytes(12).toString('hex')}`;
  while (original.includes(boundary));
  const start =
    `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
    `This is a multi-part message in MIME format.\r\n--${boundary}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
    quotedPrintable(Buffer.from(text, 'utf8')) +
    `\r\n--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=${filename}\r\n\r\n`;
  const end = `${original.length && original[original.length - 1] === 0x0a ? '' : '\r\n'}--${boundary}--\r\n`;
  return Buffer.concat([head, Buffer.from(start, 'latin1'), original, Buffer.from(end, 'latin1')]);
}

/** RFC 2047 Q encoding of a UTF-8 subject (only when it is not plain ASCII), in words of at most 75 characters, whole characters each. */
function encodedWord(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const words: string[] = [];
  let word = '';
  for (const ch of text) {
    const token = [...Buffer.from(ch, 'utf8')]
      .map((b) => (b === 0x20 ? '_' : /[0-9A-Za-z]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '=' + b.toString(16).toUpperCase().padStart(2, '0')))
      .join('');
    if (word.length + token.length > 75 - '=?utf-8?Q??='.length) {
      words.push(word);
      word = '';
    }
    word += token;
  }
  words.push(word);
  // Adjacent encoded words separated by white space are joined without it when decoded (RFC 2047 6.2).
  return words.map((w) => `=?utf-8?Q?${w}?=`).join(' ');
}

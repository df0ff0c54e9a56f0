import { randomBytes } from 'node:crypto';
import { mime } from '../wire/index.js';

/**
 * The delivery status notification (RFC 3464, multipart/report) the client module sends the
 * primary system's user when recipients had to be dropped before sending because the
 * directory holds no usable encryption certificate for them (gemSpec_CM_KOMLE, KIM 1.5).
 * Only addresses and the original header go in it: no part of the message body.
 */
export interface DroppedRecipient {
  address: string;
  /** Enhanced status code, e.g. 5.7.0. */
  status: string;
  /** Human-readable reason, English, for Diagnostic-Code. */
  diagnostic: string;
}

export interface DsnInput {
  /** Who gets the report: the sending account. */
  to: string;
  /** Our host name, for Reporting-MTA and the From address. */
  reportingMta: string;
  dropped: readonly DroppedRecipient[];
  /** The original message's header block (bytes), returned as text/rfc822-headers. */
  originalHeader: Uint8Array;
  arrivalDate: Date;
  now?: Date;
}

export function buildDsn(input: DsnInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `=_postamt_dsn_${randomBytes(12).toString('hex')}`;
  const list = input.dropped.map((d) => `  <${d.address}>: ${d.diagnostic}`).join('\r\n');
  const text =
    'Die Nachricht konnte an folgende Empfänger nicht gesendet werden, weil im Verzeichnisdienst\r\n' +
    'kein gültiges Verschlüsselungszertifikat für sie gefunden wurde:\r\n\r\n' +
    list +
    '\r\n\r\nAn alle anderen Empfänger wurde sie verschlüsselt gesendet.\r\n\r\n' +
    'The message could not be sent to the recipients above: the directory holds no usable\r\n' +
    'encryption certificate for them. It was sent, encrypted, to every other recipient.\r\n';
  const perRecipient = input.dropped
    .map((d) => [`Final-Recipient: rfc822; ${d.address}`, 'Action: failed', `Status: ${d.status}`, `Diagnostic-Code: x-kim; ${d.diagnostic}`].join('\r\n'))
    .join('\r\n\r\n');
  const header = [
    mime.formatField('From', `"Mail Delivery System" <MAILER-DAEMON@${input.reportingMta}>`),
    mime.formatField('To', `<${input.to}>`),
    mime.formatField('Subject', '=?utf-8?Q?Unzustellbar:_kein_Verschl=C3=BCsselungszertifikat?= (Delivery Status Notification)'),
    mime.formatField('Date', mime.formatRfc5322Date(now)),
    mime.formatField('Message-ID', `<dsn.${randomBytes(12).toString('hex')}@${input.reportingMta}>`),
    mime.formatField('Auto-Submitted', 'auto-replied'),
    'MIME-Version: 1.0\r\n',
    mime.formatField('Content-Type', `multipart/report; report-type=delivery-status; boundary="${boundary}"`),
  ].join('');
  const originalHeader = Buffer.from(input.originalHeader).toString('latin1').replace(/\r?\n$/, '').replace(/(\r?\n)+$/, '');
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `Arrival-Date: ${mime.formatRfc5322Date(input.arrivalDate)}`,
    '',
    perRecipient,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    originalHeader,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  // The text part is UTF-8, the returned header keeps its original bytes (latin1 round trip).
  const [before, after] = splitOnce(body, text);
  return Buffer.concat([Buffer.from(header + '\r\n', 'latin1'), Buffer.from(before, 'latin1'), Buffer.from(text, 'utf8'), Buffer.from(after, 'latin1')]);
}

function splitOnce(s: string, part: string): [string, string] {
  const i = s.indexOf(part);
  return [s.slice(0, i), s.slice(i + part.length)];
}

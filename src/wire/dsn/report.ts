import { randomBytes } from 'node:crypto';
import { formatField, formatRfc5322Date } from '../mime/index.js';

/**
 * Delivery status notifications (RFC 3464): a multipart/report with report-type=delivery-status
 * of three parts — a human-readable text, the machine-readable message/delivery-status, and the
 * original message's header as text/rfc822-headers (never its body). Used by the client module
 * for recipients it could not encrypt for and by the relay for mail another provider refused.
 */
export interface ReportRecipient {
  /** The recipient's address (Final-Recipient: rfc822; …). */
  address: string;
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';
  /** Enhanced status code (RFC 3463), e.g. 5.1.1. */
  status: string;
  /** Diagnostic-Code: `smtp` with the peer's reply, or an x- type with our own words. */
  diagnostic?: { type: string; text: string };
  /** The host that answered (Remote-MTA: dns; …). */
  remoteMta?: string;
  lastAttemptDate?: Date;
  /** For `delayed`: until when we keep trying. */
  willRetryUntil?: Date;
}

export interface DeliveryReportInput {
  /** Who gets the report. */
  to: string;
  /** Our host name, for Reporting-MTA and the From address. */
  reportingMta: string;
  /** The Subject field's value, already RFC 2047-encoded where it is not ASCII. */
  subject: string;
  /** Extra fields of the report's own header (e.g. X-KIM-Fehlermeldung), in order, repeatable. */
  headerFields?: ReadonlyArray<[string, string]>;
  /** The human-readable part (UTF-8, CRLF line ends). */
  text: string;
  recipients: readonly ReportRecipient[];
  /** The original message's header block (bytes), returned as text/rfc822-headers. */
  originalHeader: Uint8Array;
  arrivalDate: Date;
  /** Per-message fields after Reporting-MTA (e.g. X-Postamt-Queue-ID). */
  messageFields?: ReadonlyArray<[string, string]>;
  now?: Date;
}

/** A field value from outside (a peer's reply): one line of printable ASCII. */
function fieldValue(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, ' ').slice(0, 900);
}

/**
 * Final-Recipient's value (RFC 3464 2.3.2). The SMTP service takes SMTPUTF8 addresses (RFC 6531),
 * and fieldValue would make each of their non-ASCII characters a space, naming someone else: such
 * an address is written as RFC 6533's `utf-8` type in its 7-bit xtext form (`\x{FC}` for ü; `+`,
 * `=` and `\` escaped the same way), which message/delivery-status requires.
 */
function finalRecipient(address: string): string {
  if (!/[^\x00-\x7f]/.test(address)) return `rfc822; ${address}`;
  let xtext = '';
  for (const ch of address) {
    const cp = ch.codePointAt(0)!;
    xtext += cp > 0x7e || ch === '+' || ch === '=' || ch === '\\' ? `\\x{${cp.toString(16).toUpperCase()}}` : ch;
  }
  return `utf-8; ${xtext}`;
}

export function buildDeliveryReport(input: DeliveryReportInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `=_postamt_dsn_${randomBytes(12).toString('hex')}`;
  const field = (name: string, value: string) => formatField(name, fieldValue(value));
  const perMessage =
    field('Reporting-MTA', `dns; ${input.reportingMta}`) +
    (input.messageFields ?? []).map(([n, v]) => field(n, v)).join('') +
    field('Arrival-Date', formatRfc5322Date(input.arrivalDate));
  const perRecipient = input.recipients.map(
    (r) =>
      field('Final-Recipient', finalRecipient(r.address)) +
      field('Action', r.action) +
      field('Status', r.status) +
      (r.remoteMta ? field('Remote-MTA', `dns; ${r.remoteMta}`) : '') +
      (r.diagnostic ? field('Diagnostic-Code', `${r.diagnostic.type}; ${r.diagnostic.text}`) : '') +
      (r.lastAttemptDate ? field('Last-Attempt-Date', formatRfc5322Date(r.lastAttemptDate)) : '') +
      (r.willRetryUntil ? field('Will-Retry-Until', formatRfc5322Date(r.willRetryUntil)) : ''),
  );
  const header = [
    formatField('From', `"Mail Delivery System" <MAILER-DAEMON@${input.reportingMta}>`),
    formatField('To', `<${input.to}>`),
    formatField('Subject', input.subject),
    formatField('Date', formatRfc5322Date(now)),
    formatField('Message-ID', `<dsn.${randomBytes(12).toString('hex')}@${input.reportingMta}>`),
    formatField('Auto-Submitted', 'auto-replied'),
    ...(input.headerFields ?? []).map(([n, v]) => formatField(n, fieldValue(v))),
    'MIME-Version: 1.0\r\n',
    formatField('Content-Type', `multipart/report; report-type=delivery-status; boundary="${boundary}"`),
  ].join('');
  const originalHeader = Buffer.from(input.originalHeader).toString('latin1').replace(/(\r?\n)+$/, '');
  const beforeText = ['', `--${boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', ''].join('\r\n');
  const afterText = [
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    perMessage + '\r\n' + perRecipient.join('\r\n'),
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    originalHeader,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  // The text part is UTF-8, the returned header keeps its original bytes (latin1 round trip).
  // The report's own header is UTF-8 too: `to` may be an SMTPUTF8 address (RFC 6532), which
  // latin1 would cut to one byte per character; everything else in it is ASCII.
  return Buffer.concat([Buffer.from(header, 'utf8'), Buffer.from(beforeText, 'latin1'), Buffer.from(input.text, 'utf8'), Buffer.from(afterText, 'latin1')]);
}

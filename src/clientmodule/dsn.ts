import { dsn } from '../wire/index.js';

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
  const list = input.dropped.map((d) => `  <${d.address}>: ${d.diagnostic}`).join('\r\n');
  const text =
    'Die Nachricht konnte an folgende Empfänger nicht gesendet werden, weil im Verzeichnisdienst\r\n' +
    'kein gültiges Verschlüsselungszertifikat für sie gefunden wurde:\r\n\r\n' +
    list +
    '\r\n\r\nAn alle anderen Empfänger wurde sie verschlüsselt gesendet.\r\n\r\n' +
    'The message could not be sent to the recipients above: the directory holds no usable\r\n' +
    'encryption certificate for them. It was sent, encrypted, to every other recipient.\r\n';
  return dsn.buildDeliveryReport({
    to: input.to,
    reportingMta: input.reportingMta,
    subject: '=?utf-8?Q?Unzustellbar:_kein_Verschl=C3=BCsselungszertifikat?= (Delivery Status Notification)',
    text,
    recipients: input.dropped.map((d) => ({ address: d.address, action: 'failed', status: d.status, diagnostic: { type: 'x-kim', text: d.diagnostic } })),
    originalHeader: input.originalHeader,
    arrivalDate: input.arrivalDate,
    ...(input.now ? { now: input.now } : {}),
  });
}

import { dsn, mime } from '../../wire/index.js';

export interface SuccessDsnInput {
  sender: string;
  reportingMta: string;
  queueId: string;
  /** t2: when this server took the message (Arrival-Date). */
  arrival: Date;
  /** The local recipients that asked for NOTIFY=SUCCESS and got the message. */
  delivered: readonly string[];
  /** The original header (returned as text/rfc822-headers: RET=HDRS, never the body). */
  originalHeader: Uint8Array;
  originalFields: readonly mime.HeaderField[];
  now?: Date;
}

/**
 * A success DSN (RFC 3464, action `delivered`) as faq.adoc "Generierung von Zustellbestätigungen"
 * wants it (KOM-LE-A_2147): every recipient of this server as Final-Recipient, t2 as Arrival-Date,
 * the original's Message-ID as In-Reply-To of the DSN's header, and only the original header
 * ("ausschließlich die Option HDRS"), whatever RET asked. Built by the same code as the relay's.
 */
export function buildSuccessDsn(input: SuccessDsnInput): Buffer {
  const messageId = mime.findField(input.originalFields, 'Message-ID')?.value;
  const line = (r: string) => `  <${r}>`;
  return dsn.buildDeliveryReport({
    to: input.sender,
    reportingMta: input.reportingMta,
    subject: 'Zugestellt: Successful Mail Delivery Report (Delivery Status Notification)',
    headerFields: messageId ? [['In-Reply-To', messageId], ['References', messageId]] : [],
    text:
      'Die Nachricht wurde folgenden Empfängern zugestellt:\r\n\r\n' + input.delivered.map(line).join('\r\n') + '\r\n\r\n' +
      'The message was delivered to the mailboxes of the recipients above.\r\n',
    recipients: input.delivered.map((address) => ({ address, action: 'delivered', status: '2.0.0' })),
    originalHeader: input.originalHeader,
    arrivalDate: input.arrival,
    messageFields: [['X-Postamt-Queue-ID', input.queueId]],
    ...(input.now ? { now: input.now } : {}),
  });
}

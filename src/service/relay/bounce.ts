import { dsn, mime } from '../../wire/index.js';
import { withoutReturnPath } from '../../wire/smtp/index.js';
import type { RecipientResult } from './attempt.js';

/** A recipient the sender is told about: given up (failed) or still waiting (delayed). */
export interface BounceRecipient extends RecipientResult {
  address: string;
  action: 'failed' | 'delayed';
  lastAttempt: Date;
  /** For delayed: when the relay gives up. */
  retryUntil?: Date;
}

export interface BounceInput {
  sender: string;
  reportingMta: string;
  queueId: string;
  arrival: Date;
  recipients: readonly BounceRecipient[];
  /** The message as stored (its header is returned, never its body); empty when unreadable. */
  message: Uint8Array;
}

/**
 * The DSN the relay returns to a local sender (RFC 3464): who could not be reached, why (the
 * peer's reply as Diagnostic-Code: smtp; …), the original header. German first, as the rest of
 * the platform's notices, then English.
 */
export function buildRelayBounce(input: BounceInput): Buffer {
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  const line = (r: BounceRecipient) => `  <${r.address}>: ${r.diagnostic.text}`;
  const parts: string[] = [];
  if (failed.length > 0) {
    parts.push(
      'Die Nachricht konnte an folgende Empfänger nicht zugestellt werden:\r\n\r\n' + failed.map(line).join('\r\n') + '\r\n',
      'The message could not be delivered to the recipients above.\r\n',
    );
  }
  if (delayed.length > 0) {
    parts.push(
      'Die Zustellung an folgende Empfänger verzögert sich; es wird weiter versucht:\r\n\r\n' + delayed.map(line).join('\r\n') + '\r\n',
      'Delivery to the recipients above is delayed; it is still being tried. No action is needed.\r\n',
    );
  }
  const header = headerOf(input.message);
  return dsn.buildDeliveryReport({
    to: input.sender,
    reportingMta: input.reportingMta,
    subject:
      failed.length > 0
        ? 'Unzustellbar: Undelivered Mail Returned to Sender (Delivery Status Notification)'
        : '=?utf-8?Q?Verz=C3=B6gert:?= Delayed Mail (Delivery Status Notification)',
    text: parts.join('\r\n'),
    recipients: input.recipients.map((r) => ({
      address: r.address,
      action: r.action,
      status: r.status,
      diagnostic: r.diagnostic,
      ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
      lastAttemptDate: r.lastAttempt,
      ...(r.retryUntil ? { willRetryUntil: r.retryUntil } : {}),
    })),
    originalHeader: header,
    arrivalDate: input.arrival,
    messageFields: [['X-Postamt-Queue-ID', input.queueId]],
  });
}

/** The original header block as relayed (our Return-Path is not part of it). */
function headerOf(message: Uint8Array): Uint8Array {
  if (message.length === 0) return message;
  const relayed = withoutReturnPath(message);
  try {
    return relayed.subarray(0, mime.readHeaderBlock(relayed).bodyStart);
  } catch {
    return new Uint8Array(0);
  }
}

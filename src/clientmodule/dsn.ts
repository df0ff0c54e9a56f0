import { dsn } from '../wire/index.js';
import { SEND_FEHLERCODES, type SendFehlercode } from './send-codes.js';

/**
 * The delivery status notification (RFC 3461–3464: multipart/report, neither signed nor
 * encrypted) the client module sends the primary system's user about one message: recipients
 * it did not send to (no usable certificate, ambiguous Telematik-IDs, refused by the mail
 * service …) and the notice that the client module is older than the sender's directory entry
 * says (A_21387-01). Every code that applies goes into its own `X-KIM-Fehlermeldung` field
 * (A_20650-05). Only addresses and the original header go in it: no part of the message body.
 */
export interface DroppedRecipient {
  address: string;
  /** Tab_Fehlercodes_KOMLE-Clientmodule (or a vendor X code). */
  code: SendFehlercode;
  /** Enhanced status code, e.g. 5.7.0. */
  status: string;
  /** Human-readable reason, English, for Diagnostic-Code. */
  diagnostic: string;
}

export interface OutdatedClientModule {
  /** The version in the sender's directory entry (kimData/komLeData). */
  registered: string;
  /** The client module's own. */
  own: string;
}

export interface DsnInput {
  /** Who gets the report: the sending account. */
  to: string;
  /** Our host name, for Reporting-MTA and the From address. */
  reportingMta: string;
  dropped: readonly DroppedRecipient[];
  /** The recipients the message went to (reported as relayed when nothing failed). */
  sent: readonly string[];
  outdated?: OutdatedClientModule | null;
  /** The original message's header block (bytes), returned as text/rfc822-headers. */
  originalHeader: Uint8Array;
  arrivalDate: Date;
  now?: Date;
}

/** The distinct codes of a report, in the order they first apply. */
export function dsnCodes(input: Pick<DsnInput, 'dropped' | 'outdated'>): SendFehlercode[] {
  const codes = input.dropped.map((d) => d.code);
  if (input.outdated) codes.push('4017');
  return [...new Set(codes)];
}

export function buildDsn(input: DsnInput): Buffer {
  const codes = dsnCodes(input);
  const de: string[] = [];
  const en: string[] = [];
  if (input.dropped.length) {
    de.push('Die Nachricht wurde an folgende Empfänger nicht gesendet:', '');
    for (const d of input.dropped) de.push(`  <${d.address}>`, `    X-KIM-Fehlermeldung ${d.code}: ${SEND_FEHLERCODES[d.code]}`, `    (${d.diagnostic})`);
    de.push('', input.sent.length ? 'An alle anderen Empfänger wurde sie signiert und verschlüsselt gesendet.' : 'Sie wurde an niemanden gesendet.', '');
    en.push('The message was not sent to the recipients above (reasons in English in parentheses).');
    en.push(input.sent.length ? 'It was sent, signed and encrypted, to every other recipient.' : 'It was sent to nobody.');
  }
  if (input.outdated) {
    const { own, registered } = input.outdated;
    de.push(
      `X-KIM-Fehlermeldung 4017: ${SEND_FEHLERCODES['4017']}.`,
      `Das verwendete KIM-Clientmodul (KOM-LE-Version ${own}) ist veraltet: im Verzeichnisdienst ist für`,
      `Ihre Adresse die Version ${registered} eingetragen. Bitte aktualisieren Sie das Clientmodul.`,
      'Die Nachricht selbst wurde gesendet.',
      '',
    );
    en.push(`The client module in use (KOM-LE version ${own}) is outdated: the directory lists version ${registered} for your address. Please update it. The message itself was sent.`);
  }
  const text = [...de, ...en, ''].join('\r\n');
  const recipients: dsn.ReportRecipient[] = input.dropped.map((d) => ({
    address: d.address,
    action: 'failed',
    status: d.status,
    diagnostic: { type: 'x-kim', text: `${d.code} ${d.diagnostic}` },
  }));
  // RFC 3464 wants at least one recipient block: a notice alone reports those it went to.
  if (recipients.length === 0) for (const a of input.sent) recipients.push({ address: a, action: 'relayed', status: '2.0.0' });
  const subject = input.dropped.length
    ? '=?utf-8?Q?Unzustellbar:_Empf=C3=A4nger_entfernt?= (Delivery Status Notification)'
    : '=?utf-8?Q?Hinweis:_KIM-Clientmodul_veraltet?= (Delivery Status Notification)';
  return dsn.buildDeliveryReport({
    to: input.to,
    reportingMta: input.reportingMta,
    subject,
    headerFields: codes.map((c) => ['X-KIM-Fehlermeldung', c] as [string, string]),
    text,
    recipients,
    originalHeader: input.originalHeader,
    arrivalDate: input.arrivalDate,
    ...(input.now ? { now: input.now } : {}),
  });
}

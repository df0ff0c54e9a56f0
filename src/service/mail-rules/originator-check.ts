import { mime } from '../../wire/index.js';

/** Why a message's originator fields break gemSpec_FD_KOMLE A_23422, in words for the SMTP answer. */
export type OriginatorViolation = { field: 'From' | 'Sender' | 'Reply-To'; text: string };

export interface OriginatorFacts {
  /** MAIL FROM, as the account sent it. */
  mailFrom: string;
  rcptTo: readonly string[];
  fields: readonly mime.HeaderField[];
  /** Reply-To may name only addresses in domains ending so (KIM: .kim.telematik, .kim.telematik-test) or in `localDomains`. */
  replyToSuffixes: readonly string[];
  /** The service's own domains: their addresses are KIM addresses of this Fachdienst. */
  localDomains: ReadonlySet<string>;
}

function addresses(fields: readonly mime.HeaderField[], name: string): string[] {
  return mime.findFields(fields, name).flatMap((f) => mime.addressesOf(mime.parseAddressList(f.value)));
}

/**
 * gemSpec_FD_KOMLE A_23422 (faq.adoc): the originator fields of a submitted message must name
 * the MAIL FROM address (RFC 5322 addr-spec, compared case-insensitively): From must name
 * it (alone, or among several From addresses — then RFC 5322 wants a Sender, which must be it),
 * a Sender must be it, and Reply-To may only point at KIM addresses. Exception (2): a message
 * whose only recipient is its sender ("an sich selbst") is never refused. Null: none broken.
 */
export function checkOriginators(f: OriginatorFacts): OriginatorViolation | null {
  const sender = f.mailFrom.toLowerCase();
  if (f.rcptTo.length === 1 && f.rcptTo[0]!.toLowerCase() === sender) return null;
  const from = addresses(f.fields, 'From');
  if (from.length === 0) return { field: 'From', text: 'the message has no From address' };
  if (from.length === 1 && from[0] !== sender) return { field: 'From', text: `From <${from[0]}> is not the sender <${sender}>` };
  if (from.length > 1 && !from.includes(sender)) return { field: 'From', text: `none of the From addresses is the sender <${sender}>` };
  const senderFields = mime.findFields(f.fields, 'Sender');
  if (senderFields.length > 0) {
    const s = addresses(f.fields, 'Sender');
    if (s.length !== 1 || senderFields.length !== 1 || s[0] !== sender) return { field: 'Sender', text: `Sender is not the sender <${sender}>` };
  }
  for (const r of addresses(f.fields, 'Reply-To')) {
    const domain = r.slice(r.lastIndexOf('@') + 1);
    if (!f.localDomains.has(domain) && !f.replyToSuffixes.some((s) => domain.endsWith(s))) return { field: 'Reply-To', text: `Reply-To <${r}> is not a KIM address` };
  }
  return null;
}

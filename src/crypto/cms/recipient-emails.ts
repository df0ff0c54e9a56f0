import { CmsError, berAsMalformed } from './errors.js';
import { OID } from './oids.js';
import {
  bytesEqual,
  contentOf,
  expectIa5,
  expectIntegerBytes,
  expectOid,
  expectSequence,
  expectSet,
  isContext,
  rawOf,
  readBer,
  CMS_BER,
  type Tlv,
  TAG,
  derNode,
  derSetOf,
  writeDer,
} from '../../wire/ber/index.js';
import { derIa5, derOid } from './der-writer.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';

// The gematik recipient-emails attribute (OID 1.2.276.0.76.4.173):
//   RecipientEmails ::= SET SIZE(1..MAX) OF RecipientEmail
//   RecipientEmail  ::= SEQUENCE { emailAddress IA5String, rid RecipientIdentifier }
// It rides twice in every KOM-LE message, signed (SignerInfo) and unauthenticated
// (AuthEnvelopedData); the receiver compares both copies.

/** CMS RecipientIdentifier (RFC 5652 6.2.1). */
export type RecipientId =
  | { readonly type: 'issuerAndSerialNumber'; readonly issuer: Uint8Array; readonly serialNumber: Uint8Array }
  | { readonly type: 'subjectKeyIdentifier'; readonly subjectKeyIdentifier: Uint8Array };

export interface RecipientEmail {
  readonly email: string;
  readonly rid: RecipientId;
}

/** issuerAndSerialNumber of a certificate: the identifier KOM-LE uses everywhere. */
export function recipientIdOf(certDer: Uint8Array): RecipientId {
  return recipientIdFromCert(parseCertificate(certDer, 'certificate', 'invalid-input'));
}

export function recipientIdFromCert(cert: ParsedCertificate): RecipientId {
  return { type: 'issuerAndSerialNumber', issuer: cert.issuer, serialNumber: cert.serialNumber };
}

/** Whether `rid` names `cert` (issuer and serial, or subjectKeyIdentifier). */
export function ridMatchesCertificate(rid: RecipientId, cert: ParsedCertificate): boolean {
  if (rid.type === 'issuerAndSerialNumber') return bytesEqual(rid.issuer, cert.issuer) && bytesEqual(rid.serialNumber, cert.serialNumber);
  const ski = cert.subjectKeyIdentifier();
  return ski !== undefined && bytesEqual(ski, rid.subjectKeyIdentifier);
}

export function encodeRecipientId(rid: RecipientId): Uint8Array {
  if (rid.type === 'subjectKeyIdentifier') return writeDer(derNode(TAG.contextPrimitive(0), [rid.subjectKeyIdentifier]));
  return writeDer(derNode(TAG.sequence, [rid.issuer, derNode(TAG.integer, [rid.serialNumber])]));
}

export function decodeRecipientId(tlv: Tlv | undefined, what: string): RecipientId {
  // Copies: the result outlives the message buffer it was decoded from.
  if (isContext(tlv, 0) && !tlv.constructed) {
    return { type: 'subjectKeyIdentifier', subjectKeyIdentifier: new Uint8Array(contentOf(tlv, what)) };
  }
  const items = expectSequence(tlv, `${what} issuerAndSerialNumber`);
  if (items.length !== 2) throw new CmsError('malformed', `${what}: issuerAndSerialNumber needs issuer and serialNumber`);
  expectSequence(items[0], `${what} issuer`);
  return {
    type: 'issuerAndSerialNumber',
    issuer: new Uint8Array(rawOf(items[0]!)),
    serialNumber: new Uint8Array(expectIntegerBytes(items[1], `${what} serialNumber`)),
  };
}

/** Printable ASCII without spaces and with an '@': what an IA5String KIM address can be. */
const EMAIL_RE = /^[\x21-\x7e]+@[\x21-\x7e]+$/;

function encodeRecipientEmail(entry: RecipientEmail): Uint8Array {
  if (typeof entry.email !== 'string' || !EMAIL_RE.test(entry.email)) {
    throw new CmsError('invalid-input', `recipient-emails: "${String(entry.email)}" is not an ASCII mail address (IA5String)`);
  }
  return writeDer(derNode(TAG.sequence, [derIa5(entry.email), encodeRecipientId(entry.rid)]));
}

/** DER of the RecipientEmails SET (sorted, as DER wants); at least one entry. */
export function encodeRecipientEmails(entries: readonly RecipientEmail[]): Uint8Array {
  if (!Array.isArray(entries) || entries.length === 0) throw new CmsError('invalid-input', 'recipient-emails: at least one entry is required');
  return writeDer(derSetOf(TAG.set, entries.map(encodeRecipientEmail)));
}

/** DER of the whole Attribute { recipient-emails, SET { RecipientEmails } }. */
export function encodeRecipientEmailsAttribute(entries: readonly RecipientEmail[]): Uint8Array {
  return writeDer(derNode(TAG.sequence, [derOid(OID.recipientEmails), derNode(TAG.set, [encodeRecipientEmails(entries)])]));
}

/** Decodes a RecipientEmails value (DER bytes, or the element inside an attribute's SET). */
export function decodeRecipientEmails(value: Uint8Array | Tlv): RecipientEmail[] {
  return berAsMalformed(() => decodeRecipientEmailsUnchecked(value));
}

function decodeRecipientEmailsUnchecked(value: Uint8Array | Tlv): RecipientEmail[] {
  const what = 'recipient-emails';
  const entries = expectSet(value instanceof Uint8Array ? readBer(value, what, CMS_BER) : value, what);
  if (entries.length === 0) throw new CmsError('malformed', `${what}: empty SET (SIZE(1..MAX))`);
  return entries.map((entry, i) => {
    const items = expectSequence(entry, `${what}[${i}]`);
    if (items.length !== 2) throw new CmsError('malformed', `${what}[${i}]: emailAddress and rid expected`);
    const email = expectIa5(items[0], `${what}[${i}] emailAddress`);
    if (email.length === 0) throw new CmsError('malformed', `${what}[${i}]: empty emailAddress`);
    return { email, rid: decodeRecipientId(items[1], `${what}[${i}] rid`) };
  });
}

export interface RecipientEmailsComparison {
  readonly equal: boolean;
  readonly onlyInFirst: RecipientEmail[];
  readonly onlyInSecond: RecipientEmail[];
}

/**
 * Compares two lists as multisets (order-insensitive): the signed copy against the
 * unauthenticated one. Addresses compare exactly — both copies come from the same sender,
 * so any difference, even in case, means one of them was altered.
 */
export function compareRecipientEmails(first: readonly RecipientEmail[], second: readonly RecipientEmail[]): RecipientEmailsComparison {
  const key = (e: RecipientEmail): string => `${e.email}\u0000${Buffer.from(encodeRecipientId(e.rid)).toString('hex')}`;
  const pending = new Map<string, RecipientEmail[]>();
  for (const e of second) {
    const k = key(e);
    pending.set(k, [...(pending.get(k) ?? []), e]);
  }
  const onlyInFirst: RecipientEmail[] = [];
  for (const e of first) {
    const bucket = pending.get(key(e));
    if (bucket && bucket.length > 0) bucket.pop();
    else onlyInFirst.push(e);
  }
  const onlyInSecond = [...pending.values()].flat();
  return { equal: onlyInFirst.length === 0 && onlyInSecond.length === 0, onlyInFirst, onlyInSecond };
}

const NAME_LABELS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** A one-line description for logs and verification reports, e.g. `serial 0a1b… issued by CN=…`. */
export function describeRecipientId(rid: RecipientId): string {
  if (rid.type === 'subjectKeyIdentifier') return `subjectKeyIdentifier ${Buffer.from(rid.subjectKeyIdentifier).toString('hex')}`;
  return `serial ${Buffer.from(rid.serialNumber).toString('hex')} issued by ${describeName(rid.issuer)}`;
}

function describeName(der: Uint8Array): string {
  try {
    const parts: string[] = [];
    for (const rdn of expectSequence(readBer(der, 'Name', CMS_BER), 'Name')) {
      for (const atv of expectSet(rdn, 'RDN')) {
        const [type, value] = expectSequence(atv, 'AttributeTypeAndValue');
        const oid = expectOid(type, 'attribute type');
        const text = value && !value.constructed ? Buffer.from(contentOf(value, 'value')).toString('utf8') : '#';
        parts.push(`${NAME_LABELS[oid] ?? oid}=${text}`);
      }
    }
    return parts.join(', ');
  } catch {
    return `(undecodable name ${Buffer.from(der).toString('hex')})`;
  }
}

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
  isUniversal,
  UNIVERSAL,
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

// The gematik recipient-emails attribute (OID 1.2.276.0.76.4.173, gemSMIME_KOMLE KOM-LE-A_2114-01):
//   RecipientEmails ::= SET SIZE(1..MAX) OF RecipientEmail
//   RecipientEmail  ::= SEQUENCE { emailAddress IA5String, rid RecipientIdentifier }
// It rides twice in every KOM-LE message, signed (SignerInfo, KOM-LE-A_2127) and unauthenticated
// (AuthEnvelopedData); the receiver compares both copies. Written as gematik does — each
// RecipientEmail one value of the Attribute's SET —, read in that form and in the nested one.

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

/** A certificate parsed for matching against RecipientIdentifiers (ridMatchesCertificate). */
export function parseRecipientCertificate(certDer: Uint8Array): ParsedCertificate {
  return parseCertificate(certDer, 'certificate', 'invalid-input');
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

/**
 * The attribute values as gematik writes them: one DER RecipientEmail per entry, each one
 * value of the attribute's SET (gematik's sample KOM-LE messages and the other KIM products
 * do so; the profile's `RecipientEmails ::= SET OF RecipientEmail` is that SET).
 */
export function encodeRecipientEmailValues(entries: readonly RecipientEmail[]): Uint8Array[] {
  if (!Array.isArray(entries) || entries.length === 0) throw new CmsError('invalid-input', 'recipient-emails: at least one entry is required');
  return entries.map(encodeRecipientEmail);
}

/**
 * DER of a RecipientEmails SET holding the entries (sorted, as DER wants): the form some
 * implementations put as the attribute's single value ("nested"). Kept for reading that form
 * and for tests that build it; Postamt writes the gematik form (encodeRecipientEmailValues).
 */
export function encodeRecipientEmails(entries: readonly RecipientEmail[]): Uint8Array {
  return writeDer(derSetOf(TAG.set, encodeRecipientEmailValues(entries)));
}

/** DER of the whole Attribute { recipient-emails, SET { RecipientEmail, RecipientEmail, … } } (gematik form). */
export function encodeRecipientEmailsAttribute(entries: readonly RecipientEmail[]): Uint8Array {
  return writeDer(derNode(TAG.sequence, [derOid(OID.recipientEmails), derSetOf(TAG.set, encodeRecipientEmailValues(entries))]));
}

/** Decodes a RecipientEmails SET (DER bytes or an element), the nested form's single value. */
export function decodeRecipientEmails(value: Uint8Array | Tlv): RecipientEmail[] {
  return berAsMalformed(() => {
    const what = 'recipient-emails';
    const entries = expectSet(value instanceof Uint8Array ? readBer(value, what, CMS_BER) : value, what);
    if (entries.length === 0) throw new CmsError('malformed', `${what}: empty SET (SIZE(1..MAX))`);
    return entries.map((entry, i) => decodeRecipientEmail(entry, `${what}[${i}]`));
  });
}

/**
 * The entries of a recipient-emails attribute from its values (the attribute's SET members),
 * in either form: every value a RecipientEmail SEQUENCE (gematik's), or one value that is a
 * SET of them (nested). A mix, or no value, is malformed.
 */
export function decodeRecipientEmailsAttributeValues(values: readonly Tlv[]): RecipientEmail[] {
  return berAsMalformed(() => {
    const what = 'recipient-emails';
    if (values.length === 0) throw new CmsError('malformed', `${what}: the attribute has no value`);
    if (values.length === 1 && isUniversal(values[0], UNIVERSAL.set)) return decodeRecipientEmails(values[0]!);
    return values.map((v, i) => {
      if (!isUniversal(v, UNIVERSAL.sequence)) throw new CmsError('malformed', `${what}: value ${i} is neither a RecipientEmail nor the single RecipientEmails SET`);
      return decodeRecipientEmail(v, `${what}[${i}]`);
    });
  });
}

function decodeRecipientEmail(entry: Tlv, what: string): RecipientEmail {
  const items = expectSequence(entry, what);
  if (items.length !== 2) throw new CmsError('malformed', `${what}: emailAddress and rid expected`);
  const email = expectIa5(items[0], `${what} emailAddress`);
  if (email.length === 0) throw new CmsError('malformed', `${what}: empty emailAddress`);
  return { email, rid: decodeRecipientId(items[1], `${what} rid`) };
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

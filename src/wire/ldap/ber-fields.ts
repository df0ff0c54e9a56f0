import { CLASS, UNIVERSAL, childrenOf, contentOf, type Tlv } from '../ber/index.js';
import { BerError } from '../ber/index.js';

// Field readers for the LDAP ASN.1 (RFC 4511 4.1): LDAPString and OCTET STRING, INTEGER (0..maxInt),
// ENUMERATED and BOOLEAN, each checking the tag it expects. They throw BerError; the message
// decoder turns that into an LdapDecodeError with the message ID attached.

const ENUMERATED = 10;
const BOOLEAN = 1;

function fail(what: string, why: string): never {
  throw new BerError('malformed', `${what}: ${why}`);
}

/** Whether `tlv` carries the tag [class tagNumber]. */
export function hasTag(tlv: Tlv | undefined, tagClass: number, tagNumber: number): tlv is Tlv {
  return tlv !== undefined && tlv.tagClass === tagClass && tlv.tagNumber === tagNumber;
}

/** Contents of a primitive element with the given tag (default OCTET STRING), as a view. */
export function octets(tlv: Tlv | undefined, what: string, tagClass: number = CLASS.universal, tagNumber: number = UNIVERSAL.octetString): Buffer {
  if (!hasTag(tlv, tagClass, tagNumber)) fail(what, 'missing or wrongly tagged');
  // LDAP forbids the constructed (segmented) form of strings (RFC 4511 5.1).
  const c = contentOf(tlv, what);
  return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** An LDAPString / LDAPDN / LDAPOID: UTF-8 (RFC 4511 4.1.2). */
export function text(tlv: Tlv | undefined, what: string, tagClass: number = CLASS.universal, tagNumber: number = UNIVERSAL.octetString): string {
  return octets(tlv, what, tagClass, tagNumber).toString('utf8');
}

/** INTEGER (0..maxInt) or ENUMERATED, with the given tag. */
export function uint31(tlv: Tlv | undefined, what: string, tagClass: number = CLASS.universal, tagNumber: number = UNIVERSAL.integer): number {
  if (!hasTag(tlv, tagClass, tagNumber)) fail(what, 'missing or wrongly tagged');
  const body = contentOf(tlv, what);
  if (body.length === 0) fail(what, 'empty integer');
  if ((body[0]! & 0x80) !== 0) fail(what, 'negative');
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    n = n * 256 + body[i]!;
    if (n > 0x7fffffff) fail(what, 'out of range (0..2147483647)');
  }
  return n;
}

export function enumerated(tlv: Tlv | undefined, what: string): number {
  return uint31(tlv, what, CLASS.universal, ENUMERATED);
}

export function boolean(tlv: Tlv | undefined, what: string, tagClass: number = CLASS.universal, tagNumber: number = BOOLEAN): boolean {
  if (!hasTag(tlv, tagClass, tagNumber)) fail(what, 'missing or wrongly tagged');
  const body = contentOf(tlv, what);
  if (body.length !== 1) fail(what, 'BOOLEAN must have one octet');
  return body[0] !== 0;
}

/** The children of a constructed element with the given tag (default SEQUENCE). */
export function sequence(tlv: Tlv | undefined, what: string, tagClass: number = CLASS.universal, tagNumber: number = UNIVERSAL.sequence): Tlv[] {
  if (!hasTag(tlv, tagClass, tagNumber) || !tlv.constructed) fail(what, 'missing or wrongly tagged');
  return childrenOf(tlv, what);
}

export function set(tlv: Tlv | undefined, what: string): Tlv[] {
  return sequence(tlv, what, CLASS.universal, UNIVERSAL.set);
}

export function isBoolean(tlv: Tlv | undefined): boolean {
  return hasTag(tlv, CLASS.universal, BOOLEAN);
}

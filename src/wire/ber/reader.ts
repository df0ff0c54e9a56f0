import { BerError, type BerErrorCode } from './errors.js';

// A small, strict, zero-copy BER/DER reader for the hot paths (CMS per message, LDAP per
// request). asn1js builds an object per node, which made parsing a SignedData cost more than
// the RSA operation; this reader only records offsets, so a 20 MB
// body is never touched. What it accepts is set by BerRules: CMS producers send BER indefinite
// lengths and segmented strings, while LDAP (RFC 4511 5.1) allows definite lengths only.

export const CLASS = { universal: 0, application: 1, context: 2, private: 3 } as const;

export const UNIVERSAL = {
  integer: 2,
  bitString: 3,
  octetString: 4,
  null: 5,
  oid: 6,
  sequence: 16,
  set: 17,
  ia5String: 22,
  utcTime: 23,
  generalizedTime: 24,
} as const;

/** What a protocol allows beyond DER. */
export interface BerRules {
  /** Whether constructed elements may use the indefinite length form (0x80 … 00 00). */
  readonly indefinite: boolean;
  /** Deepest nesting accepted by one read (a guard against stack exhaustion). */
  readonly maxDepth: number;
  /** Whether tag numbers above 30 (identifier octets 0x1f, then base-128) are read; CMS and LDAP have none. */
  readonly highTagNumbers?: boolean;
}

/** CMS (RFC 5652): BER as producers write it, indefinite lengths included. */
export const CMS_BER: BerRules = { indefinite: true, maxDepth: 64 };
/** LDAP (RFC 4511 5.1): BER restricted to definite lengths. */
export const LDAP_BER: BerRules = { indefinite: false, maxDepth: 64 };
/**
 * A smart card's data objects (ISO/IEC 7816-4 BER-TLV), e.g. the TI-ECIES cryptogram with its
 * [APPLICATION 73] public-key object: definite lengths only, tag numbers up to 0x3fff.
 */
export const CARD_BER: BerRules = { indefinite: false, maxDepth: 8, highTagNumbers: true };

/** One decoded element: where it sits in `bytes`, never a copy. */
export interface Tlv {
  readonly bytes: Uint8Array;
  readonly tagClass: number;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  readonly contentStart: number;
  /** End of the contents (before the end-of-contents octets of an indefinite length). */
  readonly contentEnd: number;
  /** Offset just past the element. */
  readonly end: number;
  /** The rules it was read under; its children are read under the same. */
  readonly rules: BerRules;
}

function fail(what: string, why: string, code: BerErrorCode = 'malformed'): never {
  throw new BerError(code, `${what}: ${why}`);
}

/** Reads the element at `offset`, which must end by `limit`. */
function readAt(bytes: Uint8Array, offset: number, limit: number, what: string, depth: number, rules: BerRules): Tlv {
  if (depth > rules.maxDepth) fail(what, 'nested too deeply');
  if (offset + 2 > limit) fail(what, 'truncated', 'truncated');
  const id = bytes[offset]!;
  let tagNumber = id & 0x1f;
  const constructed = (id & 0x20) !== 0;
  let pos = offset + 1;
  if (tagNumber === 0x1f) {
    if (!rules.highTagNumbers) fail(what, 'high tag numbers do not occur in CMS or LDAP');
    // ISO/IEC 7816-4 allows at most two subsequent octets; a first octet 0x80 is not minimal.
    tagNumber = 0;
    for (let n = 0; ; n++) {
      if (n === 2 || pos + 1 >= limit) fail(what, 'tag number too long or truncated');
      const b = bytes[pos++]!;
      if (n === 0 && (b === 0x80 || b < 0x1f)) fail(what, 'non-minimal high tag number');
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  const first = bytes[pos++]!;
  if (first === 0x80) {
    // BER indefinite length: children until the two end-of-contents octets.
    if (!rules.indefinite) fail(what, 'indefinite length not allowed');
    if (!constructed) fail(what, 'indefinite length on a primitive');
    const contentStart = pos;
    for (;;) {
      if (pos + 2 > limit) fail(what, 'missing end-of-contents', 'truncated');
      if (bytes[pos] === 0 && bytes[pos + 1] === 0) break;
      pos = readAt(bytes, pos, limit, what, depth + 1, rules).end;
    }
    return { bytes, tagClass: id >> 6, constructed, tagNumber, start: offset, contentStart, contentEnd: pos, end: pos + 2, rules };
  }
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0) fail(what, 'reserved length form');
    if (count > 4) fail(what, 'length field too long', 'too-large');
    if (pos + count > limit) fail(what, 'truncated length', 'truncated');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[pos++]!;
  }
  if (length > limit - pos) fail(what, `length ${length} runs past the end`, 'truncated');
  return { bytes, tagClass: id >> 6, constructed, tagNumber, start: offset, contentStart: pos, contentEnd: pos + length, end: pos + length, rules };
}

/** Decodes one element that must fill `bytes` exactly (trailing bytes could hide data from a check). */
export function readBer(bytes: Uint8Array, what: string, rules: BerRules): Tlv {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) fail(what, 'empty input', 'truncated');
  const tlv = readAt(bytes, 0, bytes.length, what, 0, rules);
  if (tlv.end !== bytes.length) fail(what, `${bytes.length - tlv.end} trailing bytes`);
  return tlv;
}

/** The elements inside a constructed value. */
export function childrenOf(tlv: Tlv, what: string): Tlv[] {
  if (!tlv.constructed) fail(what, 'constructed value expected');
  const out: Tlv[] = [];
  for (let pos = tlv.contentStart; pos < tlv.contentEnd; ) {
    const child = readAt(tlv.bytes, pos, tlv.contentEnd, what, 0, tlv.rules);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** The complete encoding of the element (a view). */
export function rawOf(tlv: Tlv): Uint8Array {
  return tlv.bytes.subarray(tlv.start, tlv.end);
}

/** The contents octets of a primitive element (a view). */
export function contentOf(tlv: Tlv, what: string): Uint8Array {
  if (tlv.constructed) fail(what, 'primitive value expected');
  return tlv.bytes.subarray(tlv.contentStart, tlv.contentEnd);
}

export function isUniversal(tlv: Tlv | undefined, tagNumber: number): tlv is Tlv {
  return tlv !== undefined && tlv.tagClass === CLASS.universal && tlv.tagNumber === tagNumber;
}

export function isContext(tlv: Tlv | undefined, tagNumber: number): tlv is Tlv {
  return tlv !== undefined && tlv.tagClass === CLASS.context && tlv.tagNumber === tagNumber;
}

function expectUniversal(tlv: Tlv | undefined, tagNumber: number, name: string, what: string): Tlv {
  if (!isUniversal(tlv, tagNumber)) fail(what, `${name} expected`);
  return tlv;
}

export function expectSequence(tlv: Tlv | undefined, what: string): Tlv[] {
  const t = expectUniversal(tlv, UNIVERSAL.sequence, 'SEQUENCE', what);
  if (!t.constructed) fail(what, 'SEQUENCE must be constructed');
  return childrenOf(t, what);
}

export function expectSet(tlv: Tlv | undefined, what: string): Tlv[] {
  const t = expectUniversal(tlv, UNIVERSAL.set, 'SET', what);
  if (!t.constructed) fail(what, 'SET must be constructed');
  return childrenOf(t, what);
}

export function expectNull(tlv: Tlv | undefined, what: string): void {
  const t = expectUniversal(tlv, UNIVERSAL.null, 'NULL', what);
  if (t.constructed || t.contentEnd !== t.contentStart) fail(what, 'NULL must be empty');
}

/** Dotted form of an OBJECT IDENTIFIER. */
export function expectOid(tlv: Tlv | undefined, what: string): string {
  const body = contentOf(expectUniversal(tlv, UNIVERSAL.oid, 'OBJECT IDENTIFIER', what), what);
  if (body.length === 0 || body.length > 64 || (body[body.length - 1]! & 0x80) !== 0) fail(what, 'bad OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (value === 0 && b === 0x80) fail(what, 'non-minimal OBJECT IDENTIFIER arc');
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) fail(what, 'OBJECT IDENTIFIER arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 40 ? 0 : value < 80 ? 1 : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join('.');
}

/** Contents octets of an INTEGER (two's complement, as encoded). */
export function expectIntegerBytes(tlv: Tlv | undefined, what: string): Uint8Array {
  const body = contentOf(expectUniversal(tlv, UNIVERSAL.integer, 'INTEGER', what), what);
  if (body.length === 0) fail(what, 'empty INTEGER');
  return body;
}

/** A small non-negative INTEGER (versions, ICV and salt lengths). */
export function expectSmallInt(tlv: Tlv | undefined, what: string): number {
  const body = expectIntegerBytes(tlv, what);
  if (body.length > 4 || (body[0]! & 0x80) !== 0) fail(what, 'INTEGER out of range');
  let n = 0;
  for (const b of body) n = n * 256 + b;
  return n;
}

/** OCTET STRING contents; BER segmented (constructed) strings are joined. */
export function expectOctets(tlv: Tlv | undefined, what: string): Uint8Array {
  return octetsOf(expectUniversal(tlv, UNIVERSAL.octetString, 'OCTET STRING', what), what, 0);
}

/** Contents of an [n] IMPLICIT OCTET STRING such as encryptedContent, primitive or segmented. */
export function implicitOctets(tlv: Tlv, what: string): Uint8Array {
  return octetsOf(tlv, what, 0);
}

function octetsOf(tlv: Tlv, what: string, depth: number): Uint8Array {
  if (!tlv.constructed) return contentOf(tlv, what);
  if (depth > 4) fail(what, 'OCTET STRING segments nested too deeply');
  const parts = childrenOf(tlv, what).map((seg) => {
    if (!isUniversal(seg, UNIVERSAL.octetString)) fail(what, 'segment is not an OCTET STRING');
    return octetsOf(seg, what, depth + 1);
  });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** BIT STRING contents without the unused-bits octet. */
export function expectBitString(tlv: Tlv | undefined, what: string): Uint8Array {
  const body = contentOf(expectUniversal(tlv, UNIVERSAL.bitString, 'BIT STRING', what), what);
  if (body.length === 0 || body[0]! > 7) fail(what, 'bad BIT STRING');
  return body.subarray(1);
}

/** IA5String (7-bit) as a JS string. */
export function expectIa5(tlv: Tlv | undefined, what: string): string {
  const body = contentOf(expectUniversal(tlv, UNIVERSAL.ia5String, 'IA5String', what), what);
  for (const b of body) if (b > 0x7f) fail(what, 'IA5String with 8-bit characters');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
}

/** UTCTime or GeneralizedTime, the CMS Time choice (RFC 5652 11.3), in the Z forms DER uses. */
export function expectTime(tlv: Tlv | undefined, what: string): Date {
  if (!isUniversal(tlv, UNIVERSAL.utcTime) && !isUniversal(tlv, UNIVERSAL.generalizedTime)) fail(what, 'UTCTime or GeneralizedTime expected');
  const text = Buffer.from(contentOf(tlv, what)).toString('latin1');
  const m =
    tlv.tagNumber === UNIVERSAL.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?Z$/.exec(text);
  if (!m) fail(what, `unrecognised time "${text.slice(0, 32)}"`);
  const n = (i: number): number => Number(m[i] ?? 0);
  // RFC 5280 4.1.2.5.1: two-digit years 50..99 are 19xx, 00..49 are 20xx.
  const year = tlv.tagNumber === UNIVERSAL.utcTime ? (n(1) >= 50 ? 1900 : 2000) + n(1) : n(1);
  const ms = tlv.tagNumber === UNIVERSAL.generalizedTime && m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const date = new Date(Date.UTC(year, n(2) - 1, n(3), n(4), n(5), n(6), ms));
  if (date.getUTCMonth() !== n(2) - 1 || date.getUTCDate() !== n(3) || n(4) > 23 || n(5) > 59 || n(6) > 59) fail(what, `invalid time "${text}"`);
  return date;
}

/** Walks the fields of a SEQUENCE in order, with optional context-tagged ones. */
export class FieldReader {
  private index = 0;

  constructor(
    private readonly items: readonly Tlv[],
    private readonly what: string,
  ) {}

  next(field: string): Tlv {
    const item = this.items[this.index];
    if (!item) fail(this.what, `${field} missing`);
    this.index++;
    return item;
  }

  /** The next field if it carries context tag [tagNumber]; undefined when absent. */
  optionalContext(tagNumber: number): Tlv | undefined {
    const item = this.items[this.index];
    if (!isContext(item, tagNumber)) return undefined;
    this.index++;
    return item;
  }

  end(): void {
    if (this.index !== this.items.length) fail(this.what, 'unexpected extra field');
  }
}

/** The single element inside an EXPLICIT [n] wrapper. */
export function explicitInner(tlv: Tlv, what: string): Tlv {
  const inner = childrenOf(tlv, what);
  if (inner.length !== 1) fail(what, `[${tlv.tagNumber}] must hold exactly one element`);
  return inner[0]!;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

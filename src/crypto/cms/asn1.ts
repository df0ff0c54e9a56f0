import * as asn1js from 'asn1js';
import { CmsError, guard } from './errors.js';

// Small, strict helpers over asn1js for walking untrusted DER. Every mismatch is a
// CmsError('malformed') naming the field, so callers never see asn1js's own failures.

const TAG_CLASS_UNIVERSAL = 1;
const TAG_CLASS_CONTEXT = 3;

/**
 * Decodes exactly one BER/DER element that must fill `bytes` completely (trailing bytes are an
 * error: they could smuggle data past a signature check). No copy of the input is made and
 * OCTET STRING contents are not parsed as nested ASN.1 (a 20 MB body must stay opaque).
 */
export function decodeDer(bytes: Uint8Array, what: string): asn1js.BaseBlock {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new CmsError('malformed', `${what}: empty input`);
  const view = Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parsed = guard('malformed', what, () =>
    asn1js.fromBER(view, { copyInput: false, parseEmbedded: false, maxContentLength: view.length }),
  );
  if (parsed.offset === -1) throw new CmsError('malformed', `${what}: ${parsed.result.error || 'undecodable ASN.1'}`);
  if (parsed.offset !== view.length) throw new CmsError('malformed', `${what}: ${view.length - parsed.offset} trailing bytes`);
  return parsed.result;
}

export function isContext(block: asn1js.BaseBlock, tagNumber: number): boolean {
  return block.idBlock.tagClass === TAG_CLASS_CONTEXT && block.idBlock.tagNumber === tagNumber;
}

function isUniversal(block: asn1js.BaseBlock, tagNumber: number): boolean {
  return block.idBlock.tagClass === TAG_CLASS_UNIVERSAL && block.idBlock.tagNumber === tagNumber;
}

export function expectSequence(block: asn1js.BaseBlock | undefined, what: string): asn1js.Sequence {
  if (block instanceof asn1js.Sequence && isUniversal(block, 16)) return block;
  throw new CmsError('malformed', `${what}: SEQUENCE expected`);
}

export function expectSet(block: asn1js.BaseBlock | undefined, what: string): asn1js.Set {
  if (block instanceof asn1js.Set && isUniversal(block, 17)) return block;
  throw new CmsError('malformed', `${what}: SET expected`);
}

export function expectOid(block: asn1js.BaseBlock | undefined, what: string): string {
  if (block instanceof asn1js.ObjectIdentifier) return block.valueBlock.toString();
  throw new CmsError('malformed', `${what}: OBJECT IDENTIFIER expected`);
}

/** A small non-negative INTEGER (versions, ICV lengths, salt lengths). */
export function expectSmallInt(block: asn1js.BaseBlock | undefined, what: string): number {
  if (!(block instanceof asn1js.Integer)) throw new CmsError('malformed', `${what}: INTEGER expected`);
  const hex = block.valueBlock.valueHexView;
  if (hex.length === 0 || hex.length > 4 || (hex[0] ?? 0) & 0x80) throw new CmsError('malformed', `${what}: INTEGER out of range`);
  let n = 0;
  for (const b of hex) n = n * 256 + b;
  return n;
}

/** Content bytes of a universal OCTET STRING, primitive or (BER) constructed. */
export function expectOctets(block: asn1js.BaseBlock | undefined, what: string): Uint8Array {
  if (!(block instanceof asn1js.OctetString)) throw new CmsError('malformed', `${what}: OCTET STRING expected`);
  return octetsOf(block, what);
}

/**
 * Content bytes of an [n] IMPLICIT OCTET STRING (e.g. encryptedContent): a primitive context
 * block, or a constructed one whose children are OCTET STRINGs (BER segmentation).
 */
export function implicitOctets(block: asn1js.BaseBlock, what: string): Uint8Array {
  if (block instanceof asn1js.Primitive) return block.valueBlock.valueHexView;
  if (block instanceof asn1js.Constructed) return concatOctetChildren(block.valueBlock.value, what);
  throw new CmsError('malformed', `${what}: OCTET STRING content expected`);
}

function octetsOf(block: asn1js.OctetString, what: string): Uint8Array {
  if (!block.idBlock.isConstructed) return block.valueBlock.valueHexView;
  return concatOctetChildren(block.valueBlock.value, what);
}

function concatOctetChildren(children: asn1js.BaseBlock[], what: string): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const child of children) {
    if (child instanceof asn1js.EndOfContent) continue;
    if (!(child instanceof asn1js.OctetString)) throw new CmsError('malformed', `${what}: segment is not an OCTET STRING`);
    parts.push(octetsOf(child, what));
  }
  return parts.length === 1 && parts[0] ? parts[0] : Buffer.concat(parts);
}

/** The complete encoding (tag, length, value) the decoder saw for `block`. */
export function rawBytes(block: asn1js.BaseBlock): Uint8Array {
  return block.valueBeforeDecodeView;
}

/** Walks the children of a constructed value in order, with optional context-tagged fields. */
export class FieldReader {
  private index = 0;

  constructor(
    private readonly items: asn1js.BaseBlock[],
    private readonly what: string,
  ) {}

  next(field: string): asn1js.BaseBlock {
    const item = this.items[this.index];
    if (!item) throw new CmsError('malformed', `${this.what}: ${field} missing`);
    this.index++;
    return item;
  }

  /** The next item if it carries context tag [tagNumber], else nothing (field absent). */
  optionalContext(tagNumber: number): asn1js.BaseBlock | undefined {
    const item = this.items[this.index];
    if (item && isContext(item, tagNumber)) {
      this.index++;
      return item;
    }
    return undefined;
  }

  end(): void {
    if (this.index !== this.items.length) throw new CmsError('malformed', `${this.what}: unexpected extra field`);
  }
}

/** Children of a constructed block (SEQUENCE, SET or context-tagged). */
export function childrenOf(block: asn1js.BaseBlock, what: string): asn1js.BaseBlock[] {
  if (block instanceof asn1js.Constructed) return block.valueBlock.value.filter((b) => !(b instanceof asn1js.EndOfContent));
  throw new CmsError('malformed', `${what}: constructed value expected`);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** DER of an asn1js value built in code (small structures only; large content goes through der-writer). */
export function toDer(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

// A minimal DER writer for the structures written per message or per LDAP response. Building
// them with asn1js/PKI.js objects cost more than the RSA signature for a CMS SignerInfo, and
// asn1js's toBER() copies a payload once per nesting level; here every
// structure is a list of already-encoded parts, lengths are summed as the tree is built, and
// the large payloads (eContent, certificates in search results) are copied once, into the
// single output buffer.

export type DerPart = Uint8Array | DerNode;

export interface DerNode {
  readonly tag: number;
  readonly parts: readonly DerPart[];
  readonly contentLength: number;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  octetString: 0x04,
  enumerated: 0x0a,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
  /** [n] IMPLICIT primitive, e.g. encryptedContent [0]. */
  contextPrimitive: (n: number) => 0x80 | n,
  /** [n] constructed (EXPLICIT wrappers and IMPLICIT SETs). */
  contextConstructed: (n: number) => 0xa0 | n,
  /** [APPLICATION n] primitive and constructed (LDAP protocol operations). */
  applicationPrimitive: (n: number) => 0x40 | n,
  applicationConstructed: (n: number) => 0x60 | n,
} as const;

/** One TLV whose value is the concatenation of `parts` (already-encoded TLVs or raw content). */
export function derNode(tag: number, parts: readonly DerPart[]): DerNode {
  if (tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError('der-writer: only single-byte tags');
  let contentLength = 0;
  for (const p of parts) contentLength += encodedLength(p);
  return { tag, parts, contentLength };
}

function lengthOfLength(n: number): number {
  if (n < 0x80) return 1;
  let bytes = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes++;
  return 1 + bytes;
}

/** Bytes the part takes when written. */
export function encodedLength(p: DerPart): number {
  if (p instanceof Uint8Array) return p.length;
  return 1 + lengthOfLength(p.contentLength) + p.contentLength;
}

/** Serialises the tree into one freshly allocated buffer. */
export function writeDer(root: DerPart): Buffer {
  const out = Buffer.allocUnsafe(encodedLength(root));
  const end = writePart(out, 0, root);
  if (end !== out.length) throw new Error('der-writer: length bookkeeping is off');
  return out;
}

/** Serialises the tree into `out` at `offset` (which must have room); returns the end offset. Lets a caller batch many PDUs into one buffer. */
export function writeDerInto(out: Buffer, offset: number, root: DerPart): number {
  return writePart(out, offset, root);
}

function writePart(out: Buffer, offset: number, p: DerPart): number {
  if (p instanceof Uint8Array) {
    out.set(p, offset);
    return offset + p.length;
  }
  out[offset++] = p.tag;
  const n = p.contentLength;
  if (n < 0x80) {
    out[offset++] = n;
  } else {
    const count = lengthOfLength(n) - 1;
    out[offset++] = 0x80 | count;
    for (let i = count - 1; i >= 0; i--) out[offset++] = Math.floor(n / 256 ** i) % 256;
  }
  for (const child of p.parts) offset = writePart(out, offset, child);
  return offset;
}

/** DER INTEGER for a small non-negative number (CMS versions). */
export function derSmallInt(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 127) throw new RangeError('der-writer: small integers only');
  return Uint8Array.of(TAG.integer, 1, n);
}

/**
 * Minimal two's-complement contents of a non-negative integer up to 2^31-1 (LDAP message IDs,
 * result codes), tagged `tag` (INTEGER, ENUMERATED or an implicit tag).
 */
export function derUint(tag: number, n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError('der-writer: integer out of range');
  // Contents are as short as possible while the first octet keeps its top bit clear (positive).
  if (n < 0x80) return Uint8Array.of(tag, 1, n);
  if (n < 0x8000) return Uint8Array.of(tag, 2, n >> 8, n & 0xff);
  if (n < 0x800000) return Uint8Array.of(tag, 3, n >> 16, (n >> 8) & 0xff, n & 0xff);
  return Uint8Array.of(tag, 4, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}

/** A primitive element whose contents are `content` (referenced, copied only when written). */
export function derPrimitive(tag: number, content: Uint8Array): DerNode {
  return { tag, parts: [content], contentLength: content.length };
}

/** A primitive element holding the UTF-8 encoding of `text` (LDAPString, OCTET STRING). */
export function derUtf8(tag: number, text: string): DerNode {
  return derPrimitive(tag, Buffer.from(text, 'utf8'));
}

export function derBoolean(value: boolean): Uint8Array {
  return Uint8Array.of(TAG.boolean, 1, value ? 0xff : 0x00);
}

/** DER SET OF: the elements sorted by their encodings, as X.690 11.6 requires. */
export function derSetOf(tag: number, elements: readonly Uint8Array[]): DerNode {
  return derNode(tag, [...elements].sort(compareBytes));
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

import * as asn1js from 'asn1js';

// A minimal DER writer for the CMS structures written per message. Building them with
// asn1js/PKI.js objects cost about 0.4 ms for a SignerInfo (more than the RSA signature), and
// asn1js's toBER() copies a payload once per nesting level; here every structure is a list of
// already-encoded parts, and the large payloads (eContent, encryptedContent) are copied once.

export type DerPart = Uint8Array | DerNode;

export interface DerNode {
  readonly tag: number;
  readonly parts: readonly DerPart[];
  readonly contentLength: number;
}

export const TAG = {
  integer: 0x02,
  octetString: 0x04,
  oid: 0x06,
  sequence: 0x30,
  set: 0x31,
  /** [n] IMPLICIT primitive, e.g. encryptedContent [0]. */
  contextPrimitive: (n: number) => 0x80 | n,
  /** [n] constructed (EXPLICIT wrappers and IMPLICIT SETs). */
  contextConstructed: (n: number) => 0xa0 | n,
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

function encodedLength(p: DerPart): number {
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

/** DER SET OF: the elements sorted by their encodings, as X.690 11.6 requires. */
export function derSetOf(tag: number, elements: readonly Uint8Array[]): DerNode {
  return derNode(tag, [...elements].sort(compareBytes));
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

// ---- leaf encodings, delegated to asn1js (small values, so its per-node cost does not matter) ----

const oidCache = new Map<string, Uint8Array>();

/** DER of an OBJECT IDENTIFIER (memoised: the same few OIDs are written on every message). */
export function derOid(oid: string): Uint8Array {
  let der = oidCache.get(oid);
  if (!der) {
    der = toDer(new asn1js.ObjectIdentifier({ value: oid }));
    oidCache.set(oid, der);
  }
  return der;
}

export function derIa5(text: string): Uint8Array {
  return toDer(new asn1js.IA5String({ value: text }));
}

/** RFC 5652 11.3: UTCTime for 1950..2049, GeneralizedTime otherwise; whole seconds either way. */
export function derTime(at: Date): Uint8Array {
  const whole = new Date(Math.floor(at.getTime() / 1000) * 1000);
  const year = whole.getUTCFullYear();
  return toDer(year >= 1950 && year < 2050 ? new asn1js.UTCTime({ valueDate: whole }) : new asn1js.GeneralizedTime({ valueDate: whole }));
}

/** DER of a value built with asn1js (constants and leaves only). */
export function toDer(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(block.toBER(false));
}

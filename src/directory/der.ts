/**
 * Just enough DER to keep certificates apart: the length of one TLV, and splitting the
 * concatenation stored in `dir_entries.certs`. Certificates are checked with node:crypto's
 * X509Certificate when they are added; this only walks trusted, stored bytes.
 */
export function derTlvLength(buf: Buffer, offset = 0): number | null {
  if (offset + 2 > buf.length) return null;
  const first = buf[offset + 1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || offset + 2 + n > buf.length) return null;
  let len = 0;
  for (let k = 0; k < n; k++) len = len * 256 + buf[offset + 2 + k]!;
  return 2 + n + len;
}

export function splitDer(concat: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < concat.length) {
    const len = derTlvLength(concat, off);
    if (len === null || off + len > concat.length) break;
    out.push(concat.subarray(off, off + len));
    off += len;
  }
  return out;
}

/** Whether `b` is exactly one DER SEQUENCE (a certificate's outer shape). */
export function isOneDerSequence(b: Buffer): boolean {
  return b.length > 2 && b[0] === 0x30 && derTlvLength(b) === b.length;
}

/**
 * Whether `b` has the outer shape of an X.509 certificate: SEQUENCE { SEQUENCE (tbs),
 * SEQUENCE (algorithm), BIT STRING (signature) } with exact lengths. Cheap enough for bulk
 * imports, where a full parse per entry would dominate the time.
 */
export function looksLikeCertificate(b: Buffer): boolean {
  if (!isOneDerSequence(b)) return false;
  let off = b[1]! < 0x80 ? 2 : 2 + (b[1]! & 0x7f);
  const tags = [0x30, 0x30, 0x03];
  for (const tag of tags) {
    if (b[off] !== tag) return false;
    const len = derTlvLength(b, off);
    if (len === null || off + len > b.length) return false;
    off += len;
  }
  return off === b.length;
}

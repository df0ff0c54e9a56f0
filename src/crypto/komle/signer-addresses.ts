import { X509Certificate, createHash } from 'node:crypto';

// The mail addresses (rfc822Name) a signer certificate names. Parsing a certificate with node's
// X509Certificate costs about 0.12 ms, four times verifying the signature, and the same few
// signer certificates recur on every message from a practice; so the answer is kept per
// certificate (keyed by its SHA-256), in a bounded map that simply starts over when full.

const LIMIT = 256;
const known = new Map<string, readonly string[]>();

/** The certificate's rfc822Name entries, lower-cased; none for a certificate node cannot parse. */
export function signerMailAddresses(certDer: Uint8Array): readonly string[] {
  const key = createHash('sha256').update(certDer).digest('base64');
  let emails = known.get(key);
  if (emails === undefined) {
    emails = parse(certDer);
    if (known.size >= LIMIT) known.clear();
    known.set(key, emails);
  }
  return emails;
}

function parse(certDer: Uint8Array): readonly string[] {
  try {
    return Object.freeze(
      (new X509Certificate(certDer).subjectAltName ?? '')
        .split(/,\s*/)
        .filter((s) => s.startsWith('email:'))
        .map((s) => s.slice(6).toLowerCase()),
    );
  } catch {
    return Object.freeze([]);
  }
}

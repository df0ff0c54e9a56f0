import { createHash } from 'node:crypto';
import { X509Certificate, SubjectAlternativeNameExtension } from '@peculiar/x509';

// The mail addresses (rfc822Name) a certificate names. Read from the extension itself with
// @peculiar/x509: node's X509Certificate.subjectAltName is a display string in which an address
// with a quoted local part ("a b"@x.example) comes JSON-escaped, so splitting it loses such
// addresses. Parsing a certificate costs far more than verifying a signature, and the same few
// signer certificates recur on every message from a practice; so the answer is kept per
// certificate (keyed by its SHA-256), in a bounded map that simply starts over when full.

const LIMIT = 256;
const known = new Map<string, readonly string[]>();

/** The certificate's rfc822Name entries as written; none for a certificate that cannot be parsed. */
export function certificateMailAddresses(certDer: Uint8Array): string[] {
  try {
    const san = new X509Certificate(certDer).getExtension(SubjectAlternativeNameExtension);
    return san ? san.names.items.filter((n) => n.type === 'email').map((n) => n.value) : [];
  } catch {
    return [];
  }
}

/** The signer certificate's rfc822Name entries, lower-cased (compared with addresses read by wire/mime). */
export function signerMailAddresses(certDer: Uint8Array): readonly string[] {
  const key = createHash('sha256').update(certDer).digest('base64');
  let emails = known.get(key);
  if (emails === undefined) {
    emails = Object.freeze(certificateMailAddresses(certDer).map((e) => e.toLowerCase()));
    if (known.size >= LIMIT) known.clear();
    known.set(key, emails);
  }
  return emails;
}

import { bytesEqual } from '../../wire/ber/index.js';
import type { ParsedCertificate } from './certificate.js';

/** The outcome of one verification step, printable as it stands. */
export interface CheckResult {
  readonly ok: boolean;
  readonly detail: string;
}

const MAX_PATH = 8;

export function validAt(cert: ParsedCertificate, at: Date): boolean {
  return cert.notBefore.getTime() <= at.getTime() && at.getTime() <= cert.notAfter.getTime();
}

/**
 * Builds a path from `leaf` to one of `anchors`, taking intermediates from `pool` (the
 * certificates the message carries), and checks each link's signature, that every issuer is a
 * CA (node's checkIssued also honours keyCertSign and key identifiers) and that issuers are
 * valid at `at`. The leaf's own validity period is the separate 'validity' check, so an
 * expired signer does not show up twice. Revocation (OCSP/TSL) is the job of a layer above.
 */
export function checkChain(leaf: ParsedCertificate, anchors: readonly ParsedCertificate[], pool: readonly ParsedCertificate[], at: Date): CheckResult {
  if (anchors.length === 0) return { ok: false, detail: 'no trust anchors given' };
  if (anchors.some((a) => bytesEqual(a.der, leaf.der))) return { ok: true, detail: 'signer certificate is itself a trust anchor' };
  const path: string[] = [];
  const used = new Set<ParsedCertificate>([leaf]);
  let current = leaf;
  for (let depth = 0; depth < MAX_PATH; depth++) {
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      const name = anchor.subjectName();
      if (!validAt(anchor, at)) return { ok: false, detail: `trust anchor ${name} is not valid at ${at.toISOString()}` };
      return { ok: true, detail: `chains to trust anchor ${name}${path.length ? ` via ${path.join(' -> ')}` : ''}` };
    }
    const next = pool.find((c) => !used.has(c) && issuedBy(current, c));
    if (!next) return { ok: false, detail: `no trust anchor issued ${current.subjectName()} (issuer ${current.x509().issuer.replace(/\n/g, ', ')})` };
    if (!next.x509().ca) return { ok: false, detail: `issuer ${next.subjectName()} is not a CA` };
    if (!validAt(next, at)) return { ok: false, detail: `intermediate ${next.subjectName()} is not valid at ${at.toISOString()}` };
    used.add(next);
    path.push(next.subjectName());
    current = next;
  }
  return { ok: false, detail: `no trust anchor within ${MAX_PATH} certificates` };
}

// Whether one certificate signed another never changes, and the same pairs recur on every
// message from a practice; parsed certificates are shared (see certificate.ts), so remember it.
const issuedByMemo = new WeakMap<ParsedCertificate, WeakMap<ParsedCertificate, boolean>>();

function issuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  let known = issuedByMemo.get(child);
  if (!known) issuedByMemo.set(child, (known = new WeakMap()));
  let result = known.get(issuer);
  if (result === undefined) {
    try {
      const c = child.x509();
      result = c.checkIssued(issuer.x509()) && c.verify(issuer.x509().publicKey);
    } catch {
      result = false; // an issuer key node cannot use simply does not verify this link
    }
    known.set(issuer, result);
  }
  return result;
}

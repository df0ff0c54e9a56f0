// @peculiar/x509 needs the reflect polyfill loaded first, whichever module imports this one first.
import 'reflect-metadata';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { ExtendedKeyUsageExtension, KeyUsageFlags, KeyUsagesExtension, X509Certificate } from '@peculiar/x509';
import { certificateFingerprint } from './entry.js';

/** One certificate of a directory entry decoded for an operator (the console's directory page). */
export interface CertificateDetails {
  sha256: string;
  /** RSA or ECC (with its curve); `unknown` for another key type or bytes that do not parse. */
  kind: 'RSA' | 'ECC' | 'unknown';
  curve: string | null;
  keyBits: number | null;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Key usage bits by name (digitalSignature, keyEncipherment, keyAgreement, …). */
  keyUsage: string[];
  /** Extended key usage OIDs. */
  extendedKeyUsage: string[];
  /** valid; expiring: ends within `warnDays`; expired; not-yet-valid; unreadable. */
  state: 'valid' | 'expiring' | 'expired' | 'not-yet-valid' | 'unreadable';
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number | null;
}

const DAY_MS = 86_400_000;
const USAGE_NAMES: Array<[KeyUsageFlags, string]> = [
  [KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [KeyUsageFlags.cRLSign, 'cRLSign'],
  [KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [KeyUsageFlags.decipherOnly, 'decipherOnly'],
];

/**
 * Decodes a DER certificate: key kind and size or curve (Node's KeyObject, which knows the
 * brainpool curves of the TI), names, validity and usages (@peculiar/x509), and whether it
 * expires within `warnDays` of `now`. Bytes that do not parse are reported, not thrown.
 */
export function certificateDetails(der: Uint8Array, opts: { warnDays?: number; now?: number } = {}): CertificateDetails {
  const now = opts.now ?? Date.now();
  const warnDays = opts.warnDays ?? 30;
  const out: CertificateDetails = {
    sha256: certificateFingerprint(Buffer.from(der)),
    kind: 'unknown',
    curve: null,
    keyBits: null,
    subject: '',
    issuer: '',
    serialNumber: '',
    notBefore: '',
    notAfter: '',
    keyUsage: [],
    extendedKeyUsage: [],
    state: 'unreadable',
    daysLeft: null,
  };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return out;
  }
  out.subject = cert.subject;
  out.issuer = cert.issuer;
  out.serialNumber = cert.serialNumber.toUpperCase();
  out.notBefore = cert.notBefore.toISOString();
  out.notAfter = cert.notAfter.toISOString();
  try {
    const key = new NodeX509Certificate(der).publicKey;
    if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
      out.kind = 'RSA';
      out.keyBits = key.asymmetricKeyDetails?.modulusLength ?? null;
    } else if (key.asymmetricKeyType === 'ec') {
      out.kind = 'ECC';
      out.curve = key.asymmetricKeyDetails?.namedCurve ?? null;
    }
  } catch {
    // a key Node cannot load stays `unknown`; the rest is still worth showing
  }
  const ku = cert.getExtension(KeyUsagesExtension);
  if (ku) out.keyUsage = USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, name]) => name);
  const eku = cert.getExtension(ExtendedKeyUsageExtension);
  if (eku) out.extendedKeyUsage = eku.usages.map(String);
  const end = cert.notAfter.getTime();
  out.daysLeft = Math.floor((end - now) / DAY_MS);
  out.state = now < cert.notBefore.getTime() ? 'not-yet-valid' : now >= end ? 'expired' : end - now <= warnDays * DAY_MS ? 'expiring' : 'valid';
  return out;
}

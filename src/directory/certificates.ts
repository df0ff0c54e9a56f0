import { X509Certificate } from 'node:crypto';
import { NotFoundError, UsageError } from '../core/index.js';
import { certificateFingerprint, checkCertificate, type DirEntry, type EntryLimits } from './entry.js';
import type { EntryLookup } from './lookup.js';
import type { DirectoryNames } from './naming.js';
import type { EntryWriter } from './writes.js';

export interface CertificateInfo {
  sha256: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  notAfter: string;
}

/**
 * An entry's certificates (userCertificate): added one at a time (at most
 * EntryLimits.maxCertificates, the same one twice is a no-op), removed by fingerprint prefix,
 * described for people.
 */
export class EntryCertificates {
  constructor(
    private readonly lookup: EntryLookup,
    private readonly writer: EntryWriter,
    private readonly names: DirectoryNames,
    private readonly limits: EntryLimits,
  ) {}

  async add(key: string, der: Buffer): Promise<{ added: boolean; sha256: string }> {
    checkCertificate(der, this.limits);
    const e = await this.lookup.get(key);
    const fp = certificateFingerprint(der);
    const max = this.limits.maxCertificates;
    let added = false;
    await this.writer.modify(e.attrs.telematikID![0]!, (cur) => {
      if (!cur) throw new NotFoundError(`no directory entry ${key}`);
      if (cur.certs.some((c) => certificateFingerprint(c) === fp)) return null;
      if (cur.certs.length >= max) throw new UsageError(`an entry holds at most ${max} certificates`);
      added = true;
      return { attrs: cur.attrs, certs: [...cur.certs, der] };
    });
    return { added, sha256: fp };
  }

  /** Removes the certificates whose SHA-256 fingerprint starts with `fingerprint` (hex, at least 8 digits). */
  async remove(key: string, fingerprint: string): Promise<number> {
    const prefix = fingerprint.toLowerCase().replace(/:/g, '');
    if (!/^[0-9a-f]{8,64}$/.test(prefix)) throw new UsageError('give at least 8 hex digits of the certificate\'s SHA-256 fingerprint');
    const e = await this.lookup.get(key);
    let removed = 0;
    await this.writer.modify(e.attrs.telematikID![0]!, (cur) => {
      if (!cur) throw new NotFoundError(`no directory entry ${key}`);
      const keep = cur.certs.filter((c) => !certificateFingerprint(c).startsWith(prefix));
      removed = cur.certs.length - keep.length;
      if (removed === 0) throw new NotFoundError(`no certificate ${fingerprint} in ${this.names.dnOf(cur)}`);
      return { attrs: cur.attrs, certs: keep };
    });
    return removed;
  }
}

export function describeCertificates(e: DirEntry): CertificateInfo[] {
  return e.certs.map((der) => {
    const info: CertificateInfo = { sha256: certificateFingerprint(der), subject: '', issuer: '', serialNumber: '', notAfter: '' };
    try {
      const x = new X509Certificate(der);
      info.subject = x.subject.replace(/\n/g, ', ');
      info.issuer = x.issuer.replace(/\n/g, ', ');
      info.serialNumber = x.serialNumber;
      info.notAfter = new Date(x.validTo).toISOString();
    } catch {
      // stored bytes were checked on the way in; an unparsable one is listed by fingerprint only
    }
    return info;
  });
}

/**
 * Certificates from what an operator has at hand: PEM (one or more CERTIFICATE blocks),
 * base64 DER, or raw DER bytes.
 */
export function certificatesFrom(input: Buffer | string): Buffer[] {
  const text = typeof input === 'string' ? input : input.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const out: Buffer[] = [];
    const re = /-----BEGIN (?:X509 )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 )?CERTIFICATE-----/g;
    for (let m = re.exec(text); m; m = re.exec(text)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
    if (out.length === 0) throw new UsageError('no CERTIFICATE block in the PEM input');
    return out;
  }
  if (typeof input !== 'string' && input[0] === 0x30) return [input];
  const b64 = text.replace(/\s+/g, '');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return [Buffer.from(b64, 'base64')];
  throw new UsageError('expected a certificate as PEM, base64 DER or DER');
}

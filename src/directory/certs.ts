import { UsageError } from '../core/index.js';

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

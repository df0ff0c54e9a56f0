import 'reflect-metadata';
import { webcrypto, createHash, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface PemPair {
  cert: string;
  key: string;
}

/**
 * A self-signed TLS server certificate (ECDSA P-256, one year) for `names`: the fallback when
 * no certificate is configured, so TLS works from the first start. Clients must pin it or
 * skip verification; the fingerprint is printed for that.
 */
export async function createSelfSignedTls(names: string[], days = 365): Promise<PemPair> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const ipRe = /^(\d{1,3}\.){3}\d{1,3}$|:/;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: createHash('sha256').update(String(now) + Math.random()).digest('hex').slice(0, 16),
    name: `CN=${names[0] ?? 'localhost'}, O=Postamt self-signed`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => (ipRe.test(n) ? { type: 'ip', value: n } : { type: 'dns', value: n }))),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

/** SHA-256 fingerprint in the colon form browsers and `openssl x509 -fingerprint` print. */
export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

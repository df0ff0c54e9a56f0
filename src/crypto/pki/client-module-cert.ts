import 'reflect-metadata';
import { webcrypto, randomBytes, createPrivateKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createPkcs12 } from './pkcs12.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * The client module's TLS client certificate C.CM.TLS-CS (gemSpec_PKI Tab_PKI_267), issued by
 * the provider's CA for the Account Manager's createCert: a fresh RSA-2048 key (the profile
 * allows RSA or ECDSA; RSA is what every client module can load), handed out with the
 * certificate and the CA in a PKCS#12 file, as AccountManager.yaml answers.
 *
 * Profile: subject CN = `<commonName>#CM` (AccountManager.yaml's CertificateParameters),
 * O = the provider, C = its country; KeyUsage digitalSignature + keyEncipherment (critical),
 * ExtendedKeyUsage id-kp-clientAuth, BasicConstraints ca=false (critical), SubjectKeyIdentifier,
 * AuthorityKeyIdentifier, CertificatePolicies oid_policy_gem_or_cp. The account's address goes
 * in subjectAltName as rfc822Name: gemSpec_PKI 5.10.2 leaves telling client modules apart to
 * the provider's own scheme, and this one lets the mail service match the certificate to the
 * AUTH/USER account (mutual TLS, KOM-LE-A_2182-01) without a table of issued certificates.
 */
export interface ClientModuleCertRequest {
  /** CertificateParameters.commonName; the certificate's CN is it with `#CM`. */
  commonName: string;
  /** The KIM account the certificate is for (subjectAltName rfc822Name). */
  address: string;
  /** The PKCS#12 password; absent: the key is not encrypted (AccountManager.yaml). */
  password?: string;
}

export interface ClientModuleCa {
  certPem: string;
  keyPem: string;
}

export interface ClientModuleCertOptions {
  /** subject O: the provider responsible (Tab_PKI_267). */
  organization: string;
  /** subject C (two letters). */
  country: string;
  validityDays: number;
  now?: () => number;
}

/** oid_policy_gem_or_cp (gemSpec_PKI: every TI certificate's policy). */
const POLICY_GEM_OR_CP = '1.2.276.0.76.4.163';
const RSA_KEY = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;
/** X.520 ub-common-name (64) less the `#CM` suffix. */
export const MAX_COMMON_NAME = 61;

type SigningKey = { key: webcrypto.CryptoKey; algorithm: Parameters<typeof x509.X509CertificateGenerator.create>[0]['signingAlgorithm'] };

/** The CA's key as WebCrypto signs with it: RSA (PKCS#1 v1.5, SHA-256) or ECDSA on P-256/P-384. */
async function importCaKey(keyPem: string): Promise<SigningKey> {
  const k = createPrivateKey(keyPem);
  const pkcs8 = k.export({ type: 'pkcs8', format: 'der' });
  if (k.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { key: await webcrypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']), algorithm: alg };
  }
  const curve = k.asymmetricKeyDetails?.namedCurve;
  const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
  if (k.asymmetricKeyType !== 'ec' || !namedCurve) throw new Error(`the CA key is ${k.asymmetricKeyType} ${curve ?? ''}: only RSA and ECDSA P-256/P-384 can sign here`);
  return { key: await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve }, false, ['sign']), algorithm: { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } as SigningKey['algorithm'] };
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // a positive INTEGER
  return b.toString('hex');
}

/** Issues C.CM.TLS-CS; returns the PKCS#12 file and the certificate (PEM) for the log and tests. */
export async function issueClientModuleCert(ca: ClientModuleCa, req: ClientModuleCertRequest, o: ClientModuleCertOptions): Promise<{ p12: Uint8Array; certPem: string; serial: string; notAfter: Date }> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const signer = await importCaKey(ca.keyPem);
  const keys = (await webcrypto.subtle.generateKey(RSA_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const publicKey = new x509.PublicKey(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const now = o.now?.() ?? Date.now();
  // Not after the CA: a certificate outliving its issuer would fail every check at the end.
  const notAfter = new Date(Math.min(now + o.validityDays * 86_400_000, caCert.notAfter.getTime()));
  const serial = serialNumber();
  const F = x509.KeyUsageFlags;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    // JSON names: the values are taken as they are, so a commonName with `,` or `=` stays one attribute.
    subject: [{ CN: [`${req.commonName}#CM`] }, { O: [o.organization] }, { C: [o.country] }],
    issuer: caCert.subjectName,
    // A little into the past: a client module whose clock runs behind can use it at once.
    notBefore: new Date(now - 300_000),
    notAfter,
    signingAlgorithm: signer.algorithm,
    publicKey,
    signingKey: signer.key as unknown as Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[0] & { algorithm: unknown },
    extensions: [
      new x509.KeyUsagesExtension(F.digitalSignature | F.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'email', value: req.address }]),
      new x509.CertificatePolicyExtension([POLICY_GEM_OR_CP]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const p12 = await createPkcs12({
    certDer: new Uint8Array(cert.rawData),
    chainDer: [new Uint8Array(caCert.rawData)],
    keyPkcs8Der: pkcs8,
    password: req.password ?? '',
    encryptKey: req.password !== undefined,
    friendlyName: `${req.commonName}#CM`,
  });
  return { p12, certPem: cert.toString('pem') + '\n', serial, notAfter };
}

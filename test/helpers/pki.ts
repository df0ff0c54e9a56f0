import 'reflect-metadata';
import { webcrypto, randomBytes, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { recipientIdOf, type EnvelopeRecipient, type RecipientEmail } from '../../src/crypto/index.js';

// A throwaway RSA test PKI for the CMS tests: a CA, a foreign CA, and end-entity certificates
// shaped like KOM-LE's (signature: digitalSignature + nonRepudiation; encryption:
// keyEncipherment; the KIM address in subjectAltName).

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;
const DAY = 86_400_000;

export interface TestCa {
  readonly name: string;
  readonly certDer: Uint8Array;
  readonly certPem: string;
  readonly keys: webcrypto.CryptoKeyPair;
}

export interface TestIdentity {
  readonly email: string;
  readonly certDer: Uint8Array;
  readonly certPem: string;
  readonly privateKey: webcrypto.CryptoKey;
  readonly keys: webcrypto.CryptoKeyPair;
  /** PKCS#8 DER of the private key. */
  readonly pkcs8: Uint8Array;
  readonly keyPem: string;
}

export interface IssueOptions {
  readonly email: string;
  readonly usage: 'sign' | 'enc';
  readonly ca?: TestCa;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Reuse a key pair (many certificates for one key keep 50-recipient tests fast). */
  readonly keys?: webcrypto.CryptoKeyPair;
}

/** An ECC identity (brainpoolP256r1 unless told): node KeyObjects, since WebCrypto has no brainpool. */
export interface EccTestIdentity {
  readonly email: string;
  readonly certDer: Uint8Array;
  readonly certPem: string;
  readonly privateKey: KeyObject;
  readonly keyPem: string;
}

export interface EccIssueOptions {
  readonly email: string;
  readonly usage: 'sign' | 'enc';
  readonly curve?: string;
  readonly ca?: TestCa;
}

export interface TestPki {
  readonly ca: TestCa;
  readonly foreignCa: TestCa;
  /** Signature certificate (C.HCI.OSIG-like) of the sending practice. */
  readonly signer: TestIdentity;
  /** Encryption certificate (C.HCI.ENC-like) of the receiving practice. */
  readonly recipient: TestIdentity;
  /** A signature certificate that expired yesterday. */
  readonly expiredSigner: TestIdentity;
  /** A signature certificate from a CA nobody trusts. */
  readonly foreignSigner: TestIdentity;
  issue(opts: IssueOptions): Promise<TestIdentity>;
  /** An ECC certificate from the (RSA) test CA, keyUsage as gematik's E256 samples: keyAgreement for ENC. */
  issueEcc(opts: EccIssueOptions): Promise<EccTestIdentity>;
  generateKeys(): Promise<webcrypto.CryptoKeyPair>;
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

const serial = (): string => '0' + randomBytes(9).toString('hex'); // positive, 10 bytes

async function createCa(name: string): Promise<TestCa> {
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: new Date(now - 365 * DAY), // before the expired test certificate's period
    notAfter: new Date(now + 3650 * DAY),
    keys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const der = new Uint8Array(cert.rawData);
  return { name, certDer: der, certPem: toPem(der, 'CERTIFICATE'), keys };
}

async function issue(ca: TestCa, opts: IssueOptions): Promise<TestIdentity> {
  const keys = opts.keys ?? (await generateKeys());
  const now = Date.now();
  const usage =
    opts.usage === 'sign'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation
      : x509.KeyUsageFlags.keyEncipherment;
  const caCert = new x509.X509Certificate(ca.certDer);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.email} ${opts.usage === 'sign' ? 'OSIG' : 'ENC'}, O=Postamt Test Practice`,
    issuer: caCert.subject,
    notBefore: opts.notBefore ?? new Date(now - DAY),
    notAfter: opts.notAfter ?? new Date(now + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'email', value: opts.email }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    email: opts.email,
    certDer: der,
    certPem: toPem(der, 'CERTIFICATE'),
    privateKey: keys.privateKey,
    keys,
    pkcs8,
    keyPem: toPem(pkcs8, 'PRIVATE KEY'),
  };
}

async function issueEcc(ca: TestCa, opts: EccIssueOptions): Promise<EccTestIdentity> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: opts.curve ?? 'brainpoolP256r1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const pub = new x509.PublicKey(spki);
  const now = Date.now();
  const usage = opts.usage === 'sign' ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation : x509.KeyUsageFlags.keyAgreement;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.email} ${opts.usage === 'sign' ? 'OSIG' : 'ENC'} E256, O=Postamt Test Practice`,
    issuer: new x509.X509Certificate(ca.certDer).subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    publicKey: pub,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'email', value: opts.email }]),
      await x509.SubjectKeyIdentifierExtension.create(pub),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const der = new Uint8Array(cert.rawData);
  return { email: opts.email, certDer: der, certPem: toPem(der, 'CERTIFICATE'), privateKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Builds the whole test PKI (six RSA-2048 keys; about a second). */
export async function createTestPki(): Promise<TestPki> {
  const [ca, foreignCa] = await Promise.all([createCa('CN=Postamt Test CA, O=Postamt Test'), createCa('CN=Foreign CA, O=Elsewhere')]);
  const now = Date.now();
  const [signer, recipient, expiredSigner, foreignSigner] = await Promise.all([
    issue(ca, { email: 'praxis.sender@test.kim.telematik', usage: 'sign' }),
    issue(ca, { email: 'praxis.empfang@test.kim.telematik', usage: 'enc' }),
    issue(ca, { email: 'praxis.alt@test.kim.telematik', usage: 'sign', notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) }),
    issue(foreignCa, { email: 'fremd@elsewhere.example', usage: 'sign' }),
  ]);
  return {
    ca,
    foreignCa,
    signer,
    recipient,
    expiredSigner,
    foreignSigner,
    issue: (opts) => issue(opts.ca ?? ca, opts),
    issueEcc: (opts) => issueEcc(opts.ca ?? ca, opts),
    generateKeys,
  };
}

/** The identities as envelope recipients (certificate and address). */
export function recipientsFor(...ids: Array<TestIdentity | EccTestIdentity>): EnvelopeRecipient[] {
  return ids.map((i) => ({ certDer: i.certDer, email: i.email }));
}

/** The identities as recipient-emails entries (address and RecipientIdentifier). */
export function emailsFor(...ids: Array<TestIdentity | EccTestIdentity>): RecipientEmail[] {
  return ids.map((i) => ({ email: i.email, rid: recipientIdOf(i.certDer) }));
}

import 'reflect-metadata';
import { webcrypto, randomBytes, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { encodeAdmission, ADMISSION_OID } from './admission.js';
import { createPkcs12 } from './pkcs12.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/**
 * A TEST-ONLY PKI for the demo and the tests: a CA, and per practice an SMC-B identity with an
 * OSIG (signature) and an ENC (encryption) certificate carrying the practice's Telematik-ID in
 * the Admission extension (registrationNumber, as in gematik's SMC-B profile) and its KIM
 * address as rfc822Name, with an RSA-2048 key ("R2048"), a brainpoolP256r1 key ("E256") or
 * both, as the TI's cards now carry; plus TLS server and client certificates. Never for
 * production: the CA key lies next to the certificates and nothing here is a real gematik
 * trust anchor.
 */
export interface PracticeSpec {
  /** Directory-safe identifier, e.g. `praxis-a`. */
  id: string;
  name: string;
  telematikId: string;
  email: string;
  /** Which key generations the practice's SMC-B gets (createTestPki: default `rsa`). */
  keys?: PracticeKeys;
}

/** RSA-2048 only, brainpoolP256r1 only, or both side by side (one SMC-B of generation 2.1). */
export type PracticeKeys = 'rsa' | 'ecc' | 'both';
export const PRACTICE_KEYS: readonly PracticeKeys[] = ['rsa', 'ecc', 'both'];

export interface IssuedIdentity {
  certPem: string;
  certPath: string;
  keyPath: string;
  p12Path: string;
}

export interface TestPkiResult {
  dir: string;
  caCertPath: string;
  /**
   * Per practice its identities: `osig`/`enc` with RSA keys (files osig.*, enc.*), `osigEcc`/
   * `encEcc` with brainpoolP256r1 keys (osig-ecc.*, enc-ecc.*); which are there follows `keys`.
   * `aut` (aut.*): the RSA C.HCI.AUT identity, with the RSA keys (ExternalAuthenticate, the
   * Account Manager's JWT: PS256 needs RSA).
   */
  practices: Array<PracticeSpec & { keys: PracticeKeys; osig?: IssuedIdentity; enc?: IssuedIdentity; osigEcc?: IssuedIdentity; encEcc?: IssuedIdentity; aut?: IssuedIdentity }>;
  tlsServer: IssuedIdentity;
  tlsClient: IssuedIdentity;
  /** Password of every .p12 file (test material). */
  p12Password: string;
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;
const PROFESSION_ARZTPRAXIS = { item: 'Betriebsstätte Arzt', oid: '1.2.276.0.76.4.50' };
const WARNING = 'TEST ONLY - NOT FOR PRODUCTION';
/** The curve of the TI's ECC cards (gemSpec_Krypt GS-A_4357, GS-A_4362: brainpoolP256r1, OID 1.3.36.3.3.2.8.1.1.7). */
export const ECC_CURVE = 'brainpoolP256r1';
/**
 * Certificate policies as gematik's SMC-B certificates carry them (gemSpec_PKI Tab_PKI_239,
 * Tab_PKI_240; the sample C.HCI.ENC certificates): oid_policy_gem_or_cp and the profile's own
 * oid_smc_b_enc / oid_smc_b_osig.
 */
const POLICY_GEM_OR_CP = '1.2.276.0.76.4.163';
const POLICY_SMC_B_ENC = '1.2.276.0.76.4.76';
const POLICY_SMC_B_OSIG = '1.2.276.0.76.4.78';
/** oid_smc_b_aut (gemSpec_OID): C.HCI.AUT, the key ExternalAuthenticate signs with. */
const POLICY_SMC_B_AUT = '1.2.276.0.76.4.77';

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return b.toString('hex');
}

async function rsaKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A subject's key pair as the certificate and the key files need it: the SPKI and the PKCS#8. */
interface SubjectKeys {
  publicKey: x509.PublicKey;
  pkcs8: Uint8Array;
}

async function rsaSubjectKeys(): Promise<SubjectKeys> {
  const k = await rsaKeys();
  return { publicKey: new x509.PublicKey(await webcrypto.subtle.exportKey('spki', k.publicKey)), pkcs8: new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', k.privateKey)) };
}

/**
 * A brainpoolP256r1 key pair. WebCrypto (which @peculiar/x509 signs and exports with) knows no
 * brainpool curves, node:crypto (OpenSSL) does: the certificate gets the public key as SPKI
 * bytes; the CA signs with its own (RSA) key, so WebCrypto never touches the EC key.
 */
function eccSubjectKeys(): SubjectKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: ECC_CURVE });
  return { publicKey: new x509.PublicKey(publicKey.export({ type: 'spki', format: 'der' })), pkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })) };
}

interface IssueParams {
  subject: string;
  issuer: x509.X509Certificate;
  issuerKey: webcrypto.CryptoKey;
  publicKey: x509.PublicKey;
  extensions: x509.Extension[];
  days: number;
}

async function issue(p: IssueParams): Promise<x509.X509Certificate> {
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: p.subject,
    issuer: p.issuer.subject,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + p.days * 86_400_000),
    signingAlgorithm: RSA,
    publicKey: p.publicKey,
    signingKey: p.issuerKey as CryptoKeyLike,
    extensions: [
      ...p.extensions,
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(p.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(p.issuer),
    ],
  });
}

type CryptoKeyLike = Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[0] & { algorithm: unknown };

async function writeIdentity(dir: string, name: string, cert: x509.X509Certificate, pkcs8: Uint8Array, ca: x509.X509Certificate, password: string): Promise<IssuedIdentity> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const p12Path = join(dir, `${name}.p12`);
  const certPem = cert.toString('pem') + '\n';
  writeFileSync(certPath, certPem);
  writeFileSync(keyPath, pem('PRIVATE KEY', pkcs8), { mode: 0o600 });
  const p12 = await createPkcs12({ certDer: new Uint8Array(cert.rawData), chainDer: [new Uint8Array(ca.rawData)], keyPkcs8Der: pkcs8, password, friendlyName: `${name} (${WARNING})` });
  writeFileSync(p12Path, p12, { mode: 0o600 });
  return { certPem, certPath, keyPath, p12Path };
}

/**
 * Key usage per gemSpec_PKI: C.HCI.ENC with RSA keyEncipherment + dataEncipherment, with ECC
 * keyAgreement (as gematik's E256 samples; the ECC recipient is reached by ECDH, GS-A_4601);
 * C.HCI.OSIG nonRepudiation (GS-A_4602). The RSA OSIG keeps digitalSignature beside it, as this
 * test PKI always issued it.
 */
function keyUsage(kind: 'osig' | 'enc' | 'aut', ecc: boolean): x509.KeyUsagesExtension {
  const F = x509.KeyUsageFlags;
  if (kind === 'aut') return new x509.KeyUsagesExtension(F.digitalSignature | F.keyEncipherment, true);
  const flags = kind === 'enc' ? (ecc ? F.keyAgreement : F.keyEncipherment | F.dataEncipherment) : ecc ? F.nonRepudiation : F.digitalSignature | F.nonRepudiation;
  return new x509.KeyUsagesExtension(flags, true);
}

/** Creates the test PKI under `dir` (which must not contain one yet). */
export async function createTestPki(opts: { dir: string; practices: PracticeSpec[]; tlsNames: string[]; p12Password?: string; days?: number }): Promise<TestPkiResult> {
  const days = opts.days ?? 825;
  const password = opts.p12Password ?? 'postamt-test';
  if (existsSync(join(opts.dir, 'ca.pem'))) throw new Error(`${opts.dir} already holds a test PKI`);
  for (const p of opts.practices) if (p.keys !== undefined && !PRACTICE_KEYS.includes(p.keys)) throw new Error(`practice ${p.id}: keys must be one of ${PRACTICE_KEYS.join(', ')}`);
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(opts.dir, 'README-TEST-ONLY.txt'),
    `${WARNING}\n\nThis directory was generated by \`postamt pki init\` for demos and tests. The CA's private key\nlies beside its certificate; nothing here is a gematik trust anchor. Never use these keys for\nreal patient data. PKCS#12 password: ${password}\n`,
  );

  const caKeys = await rsaKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Postamt Test CA (${WARNING}), O=Postamt, C=DE`,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + (days + 365) * 86_400_000),
    keys: caKeys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as CryptoKeyLike),
    ],
  });
  const caCertPath = join(opts.dir, 'ca.pem');
  writeFileSync(caCertPath, ca.toString('pem') + '\n');
  writeFileSync(join(opts.dir, 'ca.key'), pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', caKeys.privateKey)), { mode: 0o600 });

  const practices: TestPkiResult['practices'] = [];
  for (const p of opts.practices) {
    const keys = p.keys ?? 'rsa';
    const dir = join(opts.dir, p.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const admission = new x509.Extension(
      ADMISSION_OID,
      false,
      encodeAdmission({ professionItem: PROFESSION_ARZTPRAXIS.item, professionOid: PROFESSION_ARZTPRAXIS.oid, telematikId: p.telematikId }),
    );
    const san = new x509.SubjectAlternativeNameExtension([{ type: 'email', value: p.email }]);
    const subject = `CN=${p.name.replace(/[,+="<>#;\\]/g, ' ')}, O=${WARNING}, C=DE`;
    const identity = async (kind: 'osig' | 'enc' | 'aut', ecc: boolean): Promise<IssuedIdentity> => {
      const subjectKeys = ecc ? eccSubjectKeys() : await rsaSubjectKeys();
      const policies = new x509.CertificatePolicyExtension([POLICY_GEM_OR_CP, { enc: POLICY_SMC_B_ENC, osig: POLICY_SMC_B_OSIG, aut: POLICY_SMC_B_AUT }[kind]]);
      // C.HCI.AUT is a TLS client certificate too (gemSpec_PKI): clientAuth beside the key usage.
      const eku = kind === 'aut' ? [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])] : [];
      const cert = await issue({ subject, issuer: ca, issuerKey: caKeys.privateKey, publicKey: subjectKeys.publicKey, days, extensions: [admission, san, keyUsage(kind, ecc), policies, ...eku] });
      return writeIdentity(dir, ecc ? `${kind}-ecc` : kind, cert, subjectKeys.pkcs8, ca, password);
    };
    const rsa = keys !== 'ecc';
    const ecc = keys !== 'rsa';
    practices.push({
      ...p,
      keys,
      ...(rsa ? { osig: await identity('osig', false), enc: await identity('enc', false), aut: await identity('aut', false) } : {}),
      ...(ecc ? { osigEcc: await identity('osig', true), encEcc: await identity('enc', true) } : {}),
    });
  }

  const tlsDir = join(opts.dir, 'tls');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const ipRe = /^(\d{1,3}\.){3}\d{1,3}$|:/;
  const serverKeys = await rsaSubjectKeys();
  const server = await issue({
    subject: `CN=${opts.tlsNames[0] ?? 'localhost'}, O=${WARNING}, C=DE`,
    issuer: ca,
    issuerKey: caKeys.privateKey,
    publicKey: serverKeys.publicKey,
    days,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(opts.tlsNames.map((n) => (ipRe.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }))),
    ],
  });
  const clientKeys = await rsaSubjectKeys();
  const client = await issue({
    subject: `CN=Postamt test client, O=${WARNING}, C=DE`,
    issuer: ca,
    issuerKey: caKeys.privateKey,
    publicKey: clientKeys.publicKey,
    days,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  return {
    dir: opts.dir,
    caCertPath,
    practices,
    tlsServer: await writeIdentity(tlsDir, 'server', server, serverKeys.pkcs8, ca, password),
    tlsClient: await writeIdentity(tlsDir, 'client', client, clientKeys.pkcs8, ca, password),
    p12Password: password,
  };
}

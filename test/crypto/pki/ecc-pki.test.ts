import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { repositoryPath, tempDir } from '../../helpers/env.js';
import { run } from '../../helpers/process.js';
import { parseCertificate } from '../../../src/crypto/cms/certificate.js';
import { ADMISSION_OID, createTestPki, decodeAdmission, readPkcs12, type PracticeSpec, type TestPkiResult } from '../../../src/crypto/pki/index.js';

// The brainpoolP256r1 ("E256") identities of the test PKI, held against gematik's own sample
// SMC-B certificates (test/fixtures/gematik-smcb-enc): what those carry, ours carry too.

const SAMPLES = repositoryPath('test', 'fixtures', 'gematik-smcb-enc');
const sample = (card: '56' | '57', kind: 'E256' | 'R2048'): Buffer => readFileSync(join(SAMPLES, `802760010116999008${card}-C_SMCB_ENC_${kind}_X509.crt`));
const POLICIES_ENC = ['1.2.276.0.76.4.163', '1.2.276.0.76.4.76'];
const POLICIES_OSIG = ['1.2.276.0.76.4.163', '1.2.276.0.76.4.78'];

/** OpenSSL's command line; `out` is stdout and stderr together, as a terminal shows them. */
async function openssl(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await run('openssl', args);
  return { code: r.code, out: r.stdout + r.stderr };
}

const policiesOf = (der: Buffer | string): string[] => [...(new x509.X509Certificate(der).getExtension(x509.CertificatePolicyExtension)?.policies ?? [])];
const telematikIdOf = (der: Buffer | string): string | undefined => {
  const ext = new x509.X509Certificate(der).getExtension(ADMISSION_OID);
  return ext ? decodeAdmission(new Uint8Array(ext.value))?.telematikId : undefined;
};

test("gematik's sample C.HCI.ENC certificates, E256 and R2048, parse with node:crypto and the CMS parser (GS-A_4601)", () => {
  assert.equal(readdirSync(SAMPLES).filter((f) => f.endsWith('.crt')).length, 4);
  for (const card of ['56', '57'] as const) {
    const ecc = sample(card, 'E256');
    const rsa = sample(card, 'R2048');
    const nodeEcc = new X509Certificate(ecc);
    assert.equal(nodeEcc.publicKey.asymmetricKeyType, 'ec');
    assert.equal(nodeEcc.publicKey.asymmetricKeyDetails?.namedCurve, 'brainpoolP256r1');
    assert.equal(new X509Certificate(rsa).publicKey.asymmetricKeyType, 'rsa');
    const parsedEcc = parseCertificate(new Uint8Array(ecc), 'E256 sample', 'invalid-input');
    assert.deepEqual([...parsedEcc.keyUsage()!], ['keyAgreement'], 'an ECC ENC certificate is for key agreement');
    assert.equal(parsedEcc.publicKey().asymmetricKeyDetails?.namedCurve, 'brainpoolP256r1');
    assert.deepEqual([...parseCertificate(new Uint8Array(rsa), 'R2048 sample', 'invalid-input').keyUsage()!].sort(), ['dataEncipherment', 'keyEncipherment']);
    // Both keys of one card carry the same Telematik-ID and the same policies.
    assert.equal(telematikIdOf(ecc), `9-2KIM-BITMARCK-0${card === '56' ? 1 : 2}`);
    assert.equal(telematikIdOf(rsa), telematikIdOf(ecc));
    assert.deepEqual(policiesOf(ecc), POLICIES_ENC);
    assert.deepEqual(policiesOf(rsa), POLICIES_ENC);
  }
});

const PRACTICES: PracticeSpec[] = [
  { id: 'praxis-both', name: 'Praxis Beide', telematikId: '1-20014721', email: 'beide@praxis.kim.test', keys: 'both' },
  { id: 'praxis-ecc', name: 'Praxis ECC', telematikId: '1-20014722', email: 'ecc@praxis.kim.test', keys: 'ecc' },
  { id: 'praxis-rsa', name: 'Praxis RSA', telematikId: '1-20014723', email: 'rsa@praxis.kim.test' },
];

test('createTestPki: brainpoolP256r1 OSIG and ENC per practice as keys says, shaped like C.HCI.ENC / C.HCI.OSIG (GS-A_4601, GS-A_4602)', { timeout: 60_000 }, async () => {
  const d = tempDir();
  try {
    const pki: TestPkiResult = await createTestPki({ dir: join(d.path, 'pki'), practices: PRACTICES, tlsNames: ['localhost'] });
    const [both, ecc, rsa] = pki.practices as [TestPkiResult['practices'][0], TestPkiResult['practices'][0], TestPkiResult['practices'][0]];
    // Which identities there are, in the result and on disk (C.HCI.AUT with the RSA keys only: PS256).
    const files = (id: string): string[] => readdirSync(join(pki.dir, id)).sort();
    assert.ok(both.osig && both.enc && both.osigEcc && both.encEcc);
    assert.deepEqual(files('praxis-both'), ['aut.key', 'aut.p12', 'aut.pem', 'enc-ecc.key', 'enc-ecc.p12', 'enc-ecc.pem', 'enc.key', 'enc.p12', 'enc.pem', 'osig-ecc.key', 'osig-ecc.p12', 'osig-ecc.pem', 'osig.key', 'osig.p12', 'osig.pem']);
    assert.ok(!ecc.osig && !ecc.enc && ecc.osigEcc && ecc.encEcc);
    assert.deepEqual(files('praxis-ecc'), ['enc-ecc.key', 'enc-ecc.p12', 'enc-ecc.pem', 'osig-ecc.key', 'osig-ecc.p12', 'osig-ecc.pem']);
    assert.ok(rsa.osig && rsa.enc && !rsa.osigEcc && !rsa.encEcc, "createTestPki's default stays RSA only");
    assert.equal(rsa.keys, 'rsa');
    assert.deepEqual(files('praxis-rsa'), ['aut.key', 'aut.p12', 'aut.pem', 'enc.key', 'enc.p12', 'enc.pem', 'osig.key', 'osig.p12', 'osig.pem']);

    for (const p of [both, ecc]) {
      for (const [kind, id] of [['osig', p.osigEcc!], ['enc', p.encEcc!]] as const) {
        const what = `${p.id}/${kind}-ecc`;
        const text = (await openssl(['x509', '-in', id.certPath, '-noout', '-text'])).out;
        assert.match(text, /Public Key Algorithm: id-ecPublicKey/, what);
        assert.match(text, /ASN1 OID: brainpoolP256r1/, what);
        const verified = await openssl(['verify', '-CAfile', pki.caCertPath, id.certPath]);
        assert.equal(verified.code, 0, `${what} chains to the (RSA) test CA: ${verified.out}`);
        assert.match(text, new RegExp(`registrationNumber: ${p.telematikId}`), `${what}: the Telematik-ID in the Admission extension`);
        assert.match(text, new RegExp(`email:${p.email.replace(/\./g, '\\.')}`), `${what}: the KIM address as rfc822Name`);
        assert.match(text, /TEST ONLY - NOT FOR PRODUCTION/);
        // Key usage as gemSpec_PKI and gematik's E256 samples: ENC keyAgreement only, OSIG nonRepudiation.
        const usage = /X509v3 Key Usage: critical\n\s*(.*)\n/.exec(text)?.[1];
        assert.equal(usage, kind === 'enc' ? 'Key Agreement' : 'Non Repudiation', what);
        assert.match(text, /X509v3 Basic Constraints: critical\n\s*CA:FALSE/);
        assert.match(text, /X509v3 Subject Key Identifier/);
        assert.match(text, /X509v3 Authority Key Identifier/);
        assert.deepEqual(policiesOf(id.certPem), kind === 'enc' ? POLICIES_ENC : POLICIES_OSIG);
        assert.equal(telematikIdOf(id.certPem), p.telematikId);
        // The CMS side reads the same (the card loader and the recipient lookup parse with it).
        const parsed = parseCertificate(new Uint8Array(new X509Certificate(id.certPem).raw), what, 'invalid-input');
        assert.deepEqual([...parsed.keyUsage()!], [kind === 'enc' ? 'keyAgreement' : 'nonRepudiation']);
        // The PKCS#8 key belongs to the certificate and is on the same curve.
        const key = createPrivateKey(readFileSync(id.keyPath, 'utf8'));
        assert.equal(key.asymmetricKeyDetails?.namedCurve, 'brainpoolP256r1');
        assert.ok(new X509Certificate(id.certPem).checkPrivateKey(key), `${what}: key and certificate match`);
        // PKCS#12: OpenSSL opens it with the password (not without), and so does our reader.
        const opened = await openssl(['pkcs12', '-in', id.p12Path, '-passin', `pass:${pki.p12Password}`, '-nodes', '-info']);
        assert.equal(opened.code, 0, opened.out);
        assert.match(opened.out, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
        assert.match(opened.out, /BEGIN PRIVATE KEY/);
        assert.notEqual((await openssl(['pkcs12', '-in', id.p12Path, '-passin', 'pass:wrong', '-nodes', '-noout'])).code, 0);
        const p12 = await readPkcs12(readFileSync(id.p12Path), pki.p12Password);
        assert.equal(p12.privateKey.asymmetricKeyType, 'ec');
        assert.ok(createPublicKey(p12.privateKey).equals(new X509Certificate(id.certPem).publicKey));
        assert.ok(Buffer.from(p12.certDer).equals(new X509Certificate(id.certPem).raw));
        assert.equal(p12.chainDer.length, 1, 'the CA certificate travels along');
      }
    }
    // Beside the ECC ones, a practice with both keeps RSA certificates as before (the subject too).
    const rsaText = (await openssl(['x509', '-in', both.enc!.certPath, '-noout', '-text'])).out;
    assert.match(rsaText, /Public-Key: \(2048 bit\)/);
    assert.match(rsaText, /Key Encipherment, Data Encipherment/);
    assert.deepEqual(policiesOf(both.enc!.certPem), POLICIES_ENC);
    assert.deepEqual(policiesOf(both.osig!.certPem), POLICIES_OSIG);
    assert.equal(new X509Certificate(both.encEcc!.certPem).subject, new X509Certificate(both.enc!.certPem).subject);
  } finally {
    d.cleanup();
  }
});

test('createTestPki refuses an unknown key choice before it writes anything', { timeout: 30_000 }, async () => {
  const d = tempDir();
  try {
    const bad = [{ ...PRACTICES[0]!, keys: 'dsa' as unknown as 'rsa' }];
    await assert.rejects(createTestPki({ dir: join(d.path, 'pki'), practices: bad, tlsNames: ['localhost'] }), /keys must be one of rsa, ecc, both/);
    assert.ok(!existsSync(join(d.path, 'pki')));
  } finally {
    d.cleanup();
  }
});

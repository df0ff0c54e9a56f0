import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CmsError,
  OID,
  aesCmac,
  decodeTiEciesCryptogram,
  decryptAuthEnveloped,
  encodeTiEciesCryptogram,
  encryptAuthEnveloped,
  envelopeRecipientEmails,
  signData,
  tiEciesUnwrap,
  tiEciesWrap,
  verifySignedData,
  type CmsErrorCode,
} from '../../../src/crypto/index.js';
import { CMS_BER, childrenOf, expectOid, expectSequence, expectSet, readBer, contentOf } from '../../../src/wire/ber/index.js';
import { createTestPki, type EccTestIdentity, type TestIdentity, type TestPki, emailsFor, recipientsFor } from '../../helpers/pki.js';
import { opensslIn } from '../../helpers/openssl.js';
import { runSync } from '../../helpers/process.js';
import { thrown } from '../../helpers/assert.js';

// TI-ECIES (gemSpec_Krypt A_17220, gemSpec_COS 6.8.2.3): the cryptogram, proven against
// OpenSSL's command-line primitives and Python's hashlib (nothing of ours in that path), the
// CMS envelope with RSA and ECC recipients, ECDSA SignedData both ways with OpenSSL, and the
// hostile inputs a card would refuse.

let pki: TestPki;
let ecc: EccTestIdentity; // a practice's C.HCI.ENC E256
let rsa: TestIdentity; // the same practice's C.HCI.ENC R2048
let eccSigner: EccTestIdentity; // C.HCI.OSIG E256
let dir: string;

before(async () => {
  pki = await createTestPki();
  [ecc, eccSigner, rsa] = await Promise.all([
    pki.issueEcc({ email: 'praxis.ecc@test.kim.telematik', usage: 'enc' }),
    pki.issueEcc({ email: 'praxis.ecc@test.kim.telematik', usage: 'sign' }),
    pki.issue({ email: 'praxis.ecc@test.kim.telematik', usage: 'enc' }),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'postamt-ecies-'));
  writeFileSync(join(dir, 'ecc.key'), ecc.keyPem);
  writeFileSync(join(dir, 'ecc.pem'), ecc.certPem);
  writeFileSync(join(dir, 'sig.key'), eccSigner.keyPem);
  writeFileSync(join(dir, 'sig.pem'), eccSigner.certPem);
  writeFileSync(join(dir, 'ca.pem'), pki.ca.certPem);
  writeFileSync(join(dir, 'ecc.pub'), createPublicKey(ecc.privateKey).export({ type: 'spki', format: 'pem' }));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const file = (name: string): string => join(dir, name);
const { mustOpenssl } = opensslIn(() => dir);
const codeOf = (fn: () => unknown): CmsErrorCode => thrown(CmsError, fn).code;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** KDF of gemSpec_COS N001.520 in Python's hashlib: Kenc and Kmac from KAB (hex in, hex out). */
function pythonKdf(kab: Buffer): { kEnc: string; kMac: string } {
  const script = 'import hashlib,sys\nk=bytes.fromhex(sys.argv[1])\nprint(hashlib.sha256(k+bytes([0,0,0,1])).hexdigest())\nprint(hashlib.sha256(k+bytes([0,0,0,2])).hexdigest())';
  const res = runSync('python3', ['-c', script, hex(kab)], { check: true });
  const [kEnc, kMac] = res.stdout.trim().split('\n');
  return { kEnc: kEnc!, kMac: kMac! };
}

/** The brainpoolP256r1 SPKI header (from OpenSSL's own encoding), so a raw point becomes a key file OpenSSL reads. */
function spkiHeaderFromOpenssl(): Buffer {
  const der = mustOpenssl(['pkey', '-pubin', '-in', file('ecc.pub'), '-outform', 'DER']);
  return der.subarray(0, der.length - 65);
}

function isoPad(b: Buffer): Buffer {
  const out = Buffer.alloc((Math.floor(b.length / 16) + 1) * 16);
  b.copy(out);
  out[b.length] = 0x80;
  return out;
}

describe('AES-CMAC', () => {
  // RFC 4493 section 4, AES-128 examples 1-4.
  const key = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
  const m = Buffer.from('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710', 'hex');
  for (const [len, mac] of [
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ] as const) {
    test(`RFC 4493 example with ${len} octets`, () => assert.equal(hex(aesCmac(key, m.subarray(0, len))), mac));
  }

  test('AES-256 agrees with openssl mac CMAC', () => {
    const k = randomBytes(32);
    for (const len of [0, 1, 16, 33, 64]) {
      const msg = randomBytes(len);
      writeFileSync(file('cmac.in'), msg);
      const out = mustOpenssl(['mac', '-cipher', 'AES-256-CBC', '-macopt', `hexkey:${hex(k)}`, '-in', file('cmac.in'), 'CMAC']).toString().trim().toLowerCase();
      assert.equal(hex(aesCmac(k, msg)), out, `length ${len}`);
    }
  });
});

describe('TI-ECIES cryptogram (A_17220)', () => {
  test('A_17220: layout is the card-compatible [6] { OID brainpoolP256r1, [APPLICATION 73] { [6] PO }, [6] 02 || C, [14] T }', () => {
    const cek = randomBytes(32);
    const c = Buffer.from(tiEciesWrap(cek, createPublicKey(ecc.privateKey)));
    // Read by fixed offsets, as gematik's dumpasn1 listing shows them: nothing of our decoder involved.
    assert.equal(c.length, 145);
    assert.equal(hex(c.subarray(0, 3)), 'a6818e');
    assert.equal(hex(c.subarray(3, 14)), '06092b2403030208010107');
    assert.equal(hex(c.subarray(14, 19)), '7f49438641');
    assert.equal(c[19], 0x04);
    assert.equal(hex(c.subarray(84, 87)), '863102');
    assert.equal(hex(c.subarray(135, 137)), '8e08');
    assert.deepEqual(tiEciesUnwrap(c, ecc.privateKey), cek);
  });

  test("gematik's example cryptogram from gemSpec_Krypt decodes into PO, C and T", () => {
    const sample = Buffer.from(
      'poGOBgkrJAMDAggBAQd/SUOGQQRouC6tM2TQQ+RP3pptgdAaDF8Te7IVCkUBe2H+PJSLK4W/BXIXkndiBwEfftd5wk4pjzCdC2j1q14/CIWcW89nhjEC7G47UAu2ZqmbIhxstkXV3UI2UUek/qwBwtb26aUild+5kkTZXf5674OKHSdj6IFwjggvhYt9b/CTsA==',
      'base64',
    );
    const p = decodeTiEciesCryptogram(sample);
    assert.equal(p.curveOid, '1.3.36.3.3.2.8.1.1.7');
    assert.equal(hex(p.po.subarray(0, 4)), '0468b82e');
    assert.equal(p.c.length, 48);
    assert.equal(hex(p.c.subarray(0, 2)), 'ec6e');
    assert.equal(hex(p.t), '2f858b7d6ff093b0');
    // And our encoder writes exactly those bytes back.
    assert.deepEqual(Buffer.from(encodeTiEciesCryptogram(p)), sample);
    // The point lies on brainpoolP256r1 (OpenSSL parses it as a public key).
    writeFileSync(file('sample-po.der'), Buffer.concat([spkiHeaderFromOpenssl(), p.po]));
    mustOpenssl(['pkey', '-pubin', '-inform', 'DER', '-in', file('sample-po.der'), '-noout']);
  });

  test('A_17220: OpenSSL primitives alone recover the transport key from our cryptogram', () => {
    const cek = randomBytes(32);
    const p = decodeTiEciesCryptogram(tiEciesWrap(cek, createPublicKey(ecc.privateKey)));
    // ECDH: openssl pkeyutl -derive with the recipient's key and the ephemeral point PO.
    writeFileSync(file('po.der'), Buffer.concat([spkiHeaderFromOpenssl(), p.po]));
    const kab = mustOpenssl(['pkeyutl', '-derive', '-inkey', file('ecc.key'), '-peerkey', file('po.der'), '-peerform', 'DER']);
    assert.equal(kab.length, 32);
    const { kEnc, kMac } = pythonKdf(kab);
    // T: CMAC over C with ISO padding, first 8 octets.
    writeFileSync(file('c-padded.bin'), isoPad(Buffer.from(p.c)));
    const mac = mustOpenssl(['mac', '-cipher', 'AES-256-CBC', '-macopt', `hexkey:${kMac}`, '-in', file('c-padded.bin'), 'CMAC']).toString().trim().toLowerCase();
    assert.equal(mac.slice(0, 16), hex(p.t));
    // IV = AES-256(Kenc, 0^16), then AES-256-CBC decryption and the ISO padding.
    writeFileSync(file('zero.bin'), Buffer.alloc(16));
    const iv = mustOpenssl(['enc', '-aes-256-ecb', '-K', kEnc, '-nopad', '-in', file('zero.bin')]);
    writeFileSync(file('c.bin'), p.c);
    const plain = mustOpenssl(['enc', '-d', '-aes-256-cbc', '-K', kEnc, '-iv', hex(iv), '-nopad', '-in', file('c.bin')]);
    assert.deepEqual(plain, isoPad(cek));
  });

  test('A_17220: a cryptogram built with OpenSSL primitives opens with our unwrap', () => {
    const cek = randomBytes(32);
    mustOpenssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1', '-out', file('eph.key')]);
    const ephDer = mustOpenssl(['pkey', '-in', file('eph.key'), '-pubout', '-outform', 'DER']);
    const po = ephDer.subarray(ephDer.length - 65);
    const kab = mustOpenssl(['pkeyutl', '-derive', '-inkey', file('eph.key'), '-peerkey', file('ecc.pub')]);
    const { kEnc, kMac } = pythonKdf(kab);
    writeFileSync(file('zero.bin'), Buffer.alloc(16));
    const iv = mustOpenssl(['enc', '-aes-256-ecb', '-K', kEnc, '-nopad', '-in', file('zero.bin')]);
    writeFileSync(file('key-padded.bin'), isoPad(cek));
    const c = mustOpenssl(['enc', '-aes-256-cbc', '-K', kEnc, '-iv', hex(iv), '-nopad', '-in', file('key-padded.bin')]);
    writeFileSync(file('c-padded.bin'), isoPad(c));
    const t = Buffer.from(mustOpenssl(['mac', '-cipher', 'AES-256-CBC', '-macopt', `hexkey:${kMac}`, '-in', file('c-padded.bin'), 'CMAC']).toString().trim().slice(0, 16), 'hex');
    // Assembled by hand, byte for byte as in gematik's listing.
    const cryptogram = Buffer.concat([
      Buffer.from('a6818e06092b24030302080101077f49438641', 'hex'),
      po,
      Buffer.from('863102', 'hex'),
      c,
      Buffer.from('8e08', 'hex'),
      t,
    ]);
    assert.deepEqual(tiEciesUnwrap(cryptogram, ecc.privateKey), cek);
  });

  test('brainpoolP384r1 keys work too; a P-256 key is refused (not a TI card curve)', async () => {
    const k384 = await pki.issueEcc({ email: 'p384@test.kim.telematik', usage: 'enc', curve: 'brainpoolP384r1' });
    const cek = randomBytes(32);
    assert.deepEqual(tiEciesUnwrap(tiEciesWrap(cek, createPublicKey(k384.privateKey)), k384.privateKey), cek);
    const p256 = await pki.issueEcc({ email: 'nist@test.kim.telematik', usage: 'enc', curve: 'prime256v1' });
    assert.equal(codeOf(() => tiEciesWrap(cek, createPublicKey(p256.privateKey))), 'invalid-input');
    assert.equal(codeOf(() => encryptAuthEnveloped(Buffer.from('x'), recipientsFor(p256))), 'invalid-input');
  });
});

describe('TI-ECIES hostile cryptograms', () => {
  const fresh = (): Buffer => Buffer.from(tiEciesWrap(randomBytes(32), createPublicKey(ecc.privateKey)));

  test('a point not on the curve is refused (decrypt-failed), nothing crashes', () => {
    const c = fresh();
    c[19 + 64]! ^= 0x01; // last octet of Y
    assert.equal(codeOf(() => tiEciesUnwrap(c, ecc.privateKey)), 'decrypt-failed');
  });

  test('a compressed or short point is malformed', () => {
    const p = decodeTiEciesCryptogram(fresh());
    const compressed = { ...p, po: Buffer.concat([Buffer.of(0x02), p.po.subarray(1, 33)]) };
    assert.equal(codeOf(() => tiEciesUnwrap(encodeTiEciesCryptogram(compressed), ecc.privateKey)), 'malformed');
  });

  test('a wrong CMAC is refused before anything is decrypted', () => {
    const c = fresh();
    c[c.length - 1]! ^= 0x80;
    assert.equal(codeOf(() => tiEciesUnwrap(c, ecc.privateKey)), 'decrypt-failed');
  });

  test('a changed ciphertext fails the CMAC', () => {
    const c = fresh();
    c[100]! ^= 0x01;
    assert.equal(codeOf(() => tiEciesUnwrap(c, ecc.privateKey)), 'decrypt-failed');
  });

  test('truncated cryptograms, a wrong padding indicator and trailing bytes are malformed', () => {
    const c = fresh();
    for (const cut of [1, 2, 3, 14, 20, 84, 90, 136, 144]) assert.equal(codeOf(() => tiEciesUnwrap(c.subarray(0, cut), ecc.privateKey)), 'malformed', `cut at ${cut}`);
    const indicator = Buffer.from(c);
    indicator[86] = 0x01;
    assert.equal(codeOf(() => tiEciesUnwrap(indicator, ecc.privateKey)), 'malformed');
    assert.equal(codeOf(() => tiEciesUnwrap(Buffer.concat([c, Buffer.of(0)]), ecc.privateKey)), 'malformed');
  });

  test('a cryptogram for another curve is not decrypted with our key', () => {
    const p = decodeTiEciesCryptogram(fresh());
    const other = encodeTiEciesCryptogram({ ...p, curveOid: '1.3.36.3.3.2.8.1.1.11' });
    assert.equal(codeOf(() => tiEciesUnwrap(other, ecc.privateKey)), 'decrypt-failed');
    const unknown = encodeTiEciesCryptogram({ ...p, curveOid: '1.2.840.10045.3.1.7' });
    assert.equal(codeOf(() => tiEciesUnwrap(unknown, ecc.privateKey)), 'unsupported');
  });

  test('random bytes never crash the decoder', () => {
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(1 + (i % 200));
      if (i % 3 === 0) junk[0] = 0xa6;
      try {
        tiEciesUnwrap(junk, ecc.privateKey);
        assert.fail('random bytes unwrapped');
      } catch (err) {
        assert.ok(err instanceof CmsError && err.code !== 'internal', String(err));
      }
    }
  });
});

describe('AuthEnvelopedData with RSA and ECC recipients', () => {
  const content = Buffer.from('Subject: Befund\r\n\r\nECC und RSA\r\n');

  test('A_17220: one KeyTransRecipientInfo per certificate; the ECC one names oid_ti_ecies_transport_encryption', () => {
    const der = encryptAuthEnveloped(content, recipientsFor(rsa, ecc));
    const aed = expectSequence(childrenOf(expectSequence(readBer(der, 'ci', CMS_BER), 'ci')[1]!, 'ci')[0], 'aed');
    const ris = expectSet(aed[1], 'ris');
    assert.equal(ris.length, 2);
    const algs = ris.map((ri) => expectOid(expectSequence(expectSequence(ri, 'ri')[2], 'alg')[0], 'oid'));
    assert.deepEqual(algs.sort(), [OID.rsaesOaep, OID.tiEciesTransportEncryption].sort());
    for (const ri of ris) assert.equal(contentOf(expectSequence(ri, 'ri')[0]!, 'v')[0], 0, 'ktri version 0');
    // recipient-emails names both certificates for the one address.
    assert.equal(envelopeRecipientEmails(der).filter((e) => e.email === ecc.email).length, 2);
    // Either key opens it.
    assert.deepEqual(Buffer.from(decryptAuthEnveloped(der, { certDer: ecc.certDer, privateKey: ecc.privateKey }).content), content);
    assert.deepEqual(Buffer.from(decryptAuthEnveloped(der, { certDer: rsa.certDer, privateKey: rsa.pkcs8 }).content), content);
  });

  test('ECC only: the envelope opens with the ECC key; a damaged cryptogram is decrypt-failed, a wrong algorithm unsupported', () => {
    const der = Buffer.from(encryptAuthEnveloped(content, recipientsFor(ecc)));
    assert.deepEqual(Buffer.from(decryptAuthEnveloped(der, { certDer: ecc.certDer, privateKey: ecc.privateKey }).content), content);
    const mac = der.indexOf(Buffer.from('8e08', 'hex'));
    const damaged = Buffer.from(der);
    damaged[mac + 2]! ^= 0xff;
    assert.equal(codeOf(() => decryptAuthEnveloped(damaged, { certDer: ecc.certDer, privateKey: ecc.privateKey })), 'decrypt-failed');
    const tiOid = der.indexOf(Buffer.from('2a8214004c04815e', 'hex')); // 1.2.276.0.76.4.222
    assert.ok(tiOid > 0, 'TI-ECIES OID present');
    const wrong = Buffer.from(der);
    wrong[tiOid + 7] = 0x5f; // .223
    assert.equal(codeOf(() => decryptAuthEnveloped(wrong, { certDer: ecc.certDer, privateKey: ecc.privateKey })), 'unsupported');
  });

  test('OpenSSL reads the envelope structure with the ECC RecipientInfo in it', () => {
    const der = encryptAuthEnveloped(content, recipientsFor(rsa, ecc));
    writeFileSync(file('env.der'), der);
    const out = mustOpenssl(['asn1parse', '-inform', 'DER', '-in', file('env.der')]).toString();
    assert.match(out, /1\.2\.276\.0\.76\.4\.222/);
    assert.match(out, /rsaesOaep/);
  });
});

describe('ECDSA SignedData (brainpoolP256r1, SHA-256)', () => {
  const content = Buffer.from('Subject: signiert mit ECC\r\n\r\nText\r\n');

  test('we sign with an ECC key and verify it; OpenSSL verifies it too', () => {
    const der = signData(content, { certDer: eccSigner.certDer, privateKey: eccSigner.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(ecc) });
    const v = verifySignedData(der, { trustAnchors: [pki.ca.certDer] });
    assert.equal(v.ok, true, JSON.stringify(v.failed));
    assert.match(v.signatureAlgorithm, /ECDSA SHA-256/);
    writeFileSync(file('sig.der'), der);
    const out = mustOpenssl(['cms', '-verify', '-inform', 'DER', '-in', file('sig.der'), '-CAfile', file('ca.pem'), '-binary', '-purpose', 'any']);
    assert.deepEqual(out, content);
  });

  test('we verify an ECDSA SignedData made by OpenSSL', () => {
    writeFileSync(file('content.bin'), content);
    mustOpenssl(['cms', '-sign', '-binary', '-nodetach', '-md', 'sha256', '-signer', file('sig.pem'), '-inkey', file('sig.key'), '-in', file('content.bin'), '-outform', 'DER', '-out', file('ossl.der')]);
    const v = verifySignedData(readFileSync(file('ossl.der')), { trustAnchors: [pki.ca.certDer] });
    assert.equal(v.ok, true, JSON.stringify(v.failed));
    assert.deepEqual(Buffer.from(v.content), content);
  });

  test('a changed ECDSA signature is invalid, not an error', () => {
    const der = Buffer.from(signData(content, { certDer: eccSigner.certDer, privateKey: eccSigner.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(ecc) }));
    const sigAt = der.length - 10;
    der[sigAt]! ^= 0x01;
    const v = verifySignedData(der, { trustAnchors: [pki.ca.certDer] });
    assert.equal(v.ok, false);
  });

  test('the private key form does not matter (PKCS#8 PEM read back)', () => {
    const key = createPrivateKey(eccSigner.keyPem);
    const der = signData(content, { certDer: eccSigner.certDer, privateKey: key }, { scheme: 'pkcs1', recipientEmails: emailsFor(ecc) });
    assert.equal(verifySignedData(der, { trustAnchors: [pki.ca.certDer] }).ok, true);
  });
});

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createCipheriv, createPrivateKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {
  CmsError,
  OID,
  compareRecipientEmails,
  decodeRecipientEmails,
  decodeRecipientEmailsAttributeValues,
  encodeRecipientEmailValues,
  decryptAuthEnveloped,
  describeRecipientId,
  encodeRecipientEmails,
  encryptAuthEnveloped,
  recipientIdOf,
  signData,
  verifySignedData,
  type CmsErrorCode,
} from '../../../src/crypto/index.js';
import { createTestPki, type TestIdentity, type TestPki, emailsFor, recipientsFor } from '../../helpers/pki.js';
import { CMS_BER, readBer } from '../../../src/wire/ber/index.js';
import { thrown } from '../../helpers/assert.js';

// Functional and negative tests of the KOM-LE CMS layer with real crypto. Interop with
// OpenSSL lives in openssl.test.ts beside this file, the fuzz loop in fuzz.test.ts.

let pki: TestPki;
let second: TestIdentity; // another practice's encryption certificate
let third: TestIdentity;

before(async () => {
  pki = await createTestPki();
  [second, third] = await Promise.all([
    pki.issue({ email: 'zweite.praxis@test.kim.telematik', usage: 'enc' }),
    pki.issue({ email: 'apotheke@test.kim.telematik', usage: 'enc' }),
  ]);
});

/** Runs `fn` and returns the CmsError code it throws (failing the test for anything else). */
const codeOf = (fn: () => unknown): CmsErrorCode => thrown(CmsError, fn).code;

function flipByteAt(der: Uint8Array, offset: number): Uint8Array {
  const copy = Uint8Array.from(der);
  copy[offset] = (copy[offset] ?? 0) ^ 0x01;
  return copy;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const i = Buffer.from(haystack).indexOf(Buffer.from(needle));
  assert.ok(i >= 0, 'needle not found');
  return i;
}

/** Parses with asn1js (an implementation independent of ours), lets `edit` change the tree, re-encodes. */
function rewrite(der: Uint8Array, edit: (root: asn1js.Sequence) => void): Uint8Array {
  const parsed = asn1js.fromBER(Uint8Array.from(der), { parseEmbedded: false });
  assert.notEqual(parsed.offset, -1);
  assert.ok(parsed.result instanceof asn1js.Sequence);
  edit(parsed.result);
  return new Uint8Array(parsed.result.toBER());
}

/** The SEQUENCE inside ContentInfo's [0]. */
function innerOf(root: asn1js.Sequence): asn1js.Sequence {
  const wrapper = root.valueBlock.value[1] as asn1js.Constructed;
  return wrapper.valueBlock.value[0] as asn1js.Sequence;
}

describe('recipient-emails attribute', () => {
  // Requirements: gemSMIME_KOMLE: KOM-LE-A_2114-01 (RecipientEmails), KOM-LE-A_2117 (rid is issuerAndSerialNumber)
  test('encodes, decodes and compares order-insensitively', () => {
    const list = emailsFor(pki.recipient, second, third);
    const decoded = decodeRecipientEmails(encodeRecipientEmails(list));
    assert.equal(decoded.length, 3);
    assert.ok(compareRecipientEmails(list, decoded).equal);
    assert.ok(compareRecipientEmails([...list].reverse(), decoded).equal);
    assert.deepEqual(decoded.map((e) => e.email).sort(), list.map((e) => e.email).sort());
    assert.match(describeRecipientId(decoded[0]!.rid), /^serial [0-9a-f]+ issued by CN=Postamt Test CA, O=Postamt Test$/);
  });

  test('reports each difference', () => {
    const list = emailsFor(pki.recipient, second);
    const otherAddress = [{ ...list[0]!, email: 'Praxis.Empfang@test.kim.telematik' }, list[1]!];
    const c1 = compareRecipientEmails(list, otherAddress);
    assert.equal(c1.equal, false);
    assert.equal(c1.onlyInFirst[0]?.email, pki.recipient.email);
    assert.equal(c1.onlyInSecond[0]?.email, 'Praxis.Empfang@test.kim.telematik');
    const otherCert = [list[0]!, { ...list[1]!, rid: recipientIdOf(third.certDer) }];
    assert.equal(compareRecipientEmails(list, otherCert).equal, false);
    assert.equal(compareRecipientEmails(list, [list[0]!]).equal, false);
    assert.equal(compareRecipientEmails(list, [...list, list[1]!]).equal, false, 'a duplicate entry is a difference');
  });

  test('keeps the subjectKeyIdentifier choice of RecipientIdentifier', () => {
    const ski = { email: 'x@test.kim.telematik', rid: { type: 'subjectKeyIdentifier' as const, subjectKeyIdentifier: randomBytes(20) } };
    const [back] = decodeRecipientEmails(encodeRecipientEmails([ski]));
    assert.ok(back && compareRecipientEmails([ski], [back]).equal);
  });

  test('refuses what IA5String and SIZE(1..MAX) cannot hold', () => {
    const rid = recipientIdOf(pki.recipient.certDer);
    assert.equal(codeOf(() => encodeRecipientEmails([])), 'invalid-input');
    assert.equal(codeOf(() => encodeRecipientEmails([{ email: 'müller@test.kim.telematik', rid }])), 'invalid-input');
    assert.equal(codeOf(() => encodeRecipientEmails([{ email: 'no-at-sign', rid }])), 'invalid-input');
    assert.equal(codeOf(() => decodeRecipientEmails(Uint8Array.of(0x31, 0x00))), 'malformed');
    assert.equal(codeOf(() => decodeRecipientEmails(Uint8Array.of(0x31, 0x05, 0x30))), 'malformed');
  });
});

describe("recipient-emails in gematik's form and in the nested form", () => {
  /** The values of the recipient-emails attribute in `attrs` (a SET OF Attribute), as asn1js sees them. */
  function attributeValues(attrs: asn1js.Constructed): asn1js.BaseBlock[] {
    const attr = attrs.valueBlock.value.find((a) => ((a as asn1js.Sequence).valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString() === OID.recipientEmails) as asn1js.Sequence;
    return (attr.valueBlock.value[1] as asn1js.Set).valueBlock.value;
  }
  const unauthAttrsOf = (der: Uint8Array): asn1js.Constructed => {
    const env = innerOf(asn1js.fromBER(Uint8Array.from(der)).result as asn1js.Sequence);
    return env.valueBlock.value[env.valueBlock.value.length - 1] as asn1js.Constructed;
  };

  test('KOM-LE-A_2114-01 / KOM-LE-A_2115-02: the unauthenticated copy is written with each RecipientEmail one value of the attribute', () => {
    const der = encryptAuthEnveloped(Buffer.from('x'), recipientsFor(pki.recipient, second, third));
    const values = attributeValues(unauthAttrsOf(der));
    assert.equal(values.length, 3, 'three values, not one SET');
    assert.ok(values.every((v) => v instanceof asn1js.Sequence));
    assert.deepEqual(values.map((v) => ((v as asn1js.Sequence).valueBlock.value[0] as asn1js.IA5String).getValue()).sort(), [pki.recipient.email, second.email, third.email].sort());
  });

  test('KOM-LE-A_2127: the signed copy is written the same way', () => {
    const der = signData(Buffer.from('x'), { certDer: pki.signer.certDer, privateKey: pki.signer.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(pki.recipient, second) });
    const signedData = innerOf(asn1js.fromBER(Uint8Array.from(der)).result as asn1js.Sequence);
    const signerInfo = (signedData.valueBlock.value[signedData.valueBlock.value.length - 1] as asn1js.Set).valueBlock.value[0] as asn1js.Sequence;
    const signedAttrs = signerInfo.valueBlock.value.find((v) => v.idBlock.tagClass === 3 && v.idBlock.tagNumber === 0) as asn1js.Constructed;
    const values = attributeValues(signedAttrs);
    assert.equal(values.length, 2);
    assert.ok(values.every((v) => v instanceof asn1js.Sequence));
  });

  test('KOM-LE-A_2114-01: a message whose unauthAttrs hold the nested form (one value that is the RecipientEmails SET), built with asn1js, decrypts with the entries read', () => {
    const der = encryptAuthEnveloped(Buffer.from('nested'), recipientsFor(pki.recipient, second));
    const parsed = asn1js.fromBER(Uint8Array.from(der));
    const values = attributeValues(unauthAttrsOf(der));
    const nested = Buffer.from(parsed.result.toBER()); // untouched copy first: the gematik form
    assert.equal(decryptAuthEnveloped(nested, { certDer: pki.recipient.certDer, privateKey: pki.recipient.privateKey }).recipientEmails.length, 2);
    const env = innerOf(parsed.result as asn1js.Sequence);
    const unauth = env.valueBlock.value[env.valueBlock.value.length - 1] as asn1js.Constructed;
    const attr = unauth.valueBlock.value[0] as asn1js.Sequence;
    (attr.valueBlock.value[1] as asn1js.Set).valueBlock.value = [new asn1js.Set({ value: values })];
    const rewritten = Buffer.from(parsed.result.toBER());
    assert.notDeepEqual(rewritten, nested);
    const out = decryptAuthEnveloped(rewritten, { certDer: pki.recipient.certDer, privateKey: pki.recipient.privateKey });
    assert.ok(compareRecipientEmails(out.recipientEmails, emailsFor(pki.recipient, second)).equal);
  });

  test('both forms decode; a mix of them, no value, or a value of another type is malformed', () => {
    const entries = emailsFor(pki.recipient, second);
    const asTlvs = (ders: Uint8Array[]) => ders.map((d) => readBer(d, 'value', CMS_BER));
    assert.equal(decodeRecipientEmailsAttributeValues(asTlvs(encodeRecipientEmailValues(entries))).length, 2);
    assert.equal(decodeRecipientEmailsAttributeValues(asTlvs([encodeRecipientEmails(entries)])).length, 2);
    assert.equal(codeOf(() => decodeRecipientEmailsAttributeValues([])), 'malformed');
    assert.equal(codeOf(() => decodeRecipientEmailsAttributeValues(asTlvs([...encodeRecipientEmailValues(entries), encodeRecipientEmails(entries)]))), 'malformed');
    assert.equal(codeOf(() => decodeRecipientEmailsAttributeValues(asTlvs([Uint8Array.of(0x04, 0x01, 0x00)]))), 'malformed');
  });
});

describe('SignedData', () => {
  const content = Buffer.from('From: a@test.kim.telematik\r\nSubject: Befund\r\n\r\nÄrztliche Mitteilung – größer als 8 Bit\r\n\x00\xff', 'utf8');

  for (const scheme of ['pkcs1', 'pss'] as const) {
    // Requirements: gemSMIME_KOMLE: KOM-LE-A_2125 (the sid names the included signer certificate)
    test(`${scheme}: signs and verifies with every check passing`, () => {
      const signingTime = new Date('2026-05-04T10:20:30.999Z');
      const emails = emailsFor(pki.recipient, second);
      const der = signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.privateKey }, { scheme, recipientEmails: emails, signingTime });
      const v = verifySignedData(der, { trustAnchors: [pki.ca.certDer], at: new Date() });
      assert.ok(v.ok, JSON.stringify(v.checks));
      assert.deepEqual(v.failed, []);
      for (const check of Object.values(v.checks)) assert.ok(check.ok && check.detail.length > 0);
      assert.deepEqual(Buffer.from(v.content), content);
      assert.equal(v.contentType, OID.data);
      assert.deepEqual(v.signerCert, pki.signer.certDer);
      assert.equal(v.signingTime?.toISOString(), '2026-05-04T10:20:30.000Z', 'whole seconds');
      assert.equal(v.checkedAtSource, 'given');
      assert.ok(compareRecipientEmails(v.recipientEmails, emails).equal);
      assert.match(v.signatureAlgorithm, scheme === 'pss' ? /^RSASSA-PSS SHA-256 \(salt 32\)$/ : /^RSASSA-PKCS1-v1_5 SHA-256$/);
    });

    // Requirements: gemSMIME_KOMLE: KOM-LE-A_2118, KOM-LE-A_2119, KOM-LE-A_2121, KOM-LE-A_2122, KOM-LE-A_2123, KOM-LE-A_2124, KOM-LE-A_2126, KOM-LE-A_2127; gemSpec_CM_KOMLE: KOM-LE-A_2190 (signed recipient-emails)
    test(`${scheme}: has the KOM-LE shape, as PKI.js reads it, and PKI.js verifies it`, async () => {
      const der = signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.pkcs8 }, { scheme, recipientEmails: emailsFor(pki.recipient) });
      const ci = pkijs.ContentInfo.fromBER(der);
      assert.equal(ci.contentType, OID.signedData);
      const sd = new pkijs.SignedData({ schema: ci.content });
      assert.equal(sd.encapContentInfo.eContentType, OID.data);
      assert.equal(sd.certificates?.length, 1);
      assert.equal(sd.crls, undefined);
      assert.equal(sd.signerInfos.length, 1);
      const si = sd.signerInfos[0]!;
      assert.ok(si.sid instanceof pkijs.IssuerAndSerialNumber);
      assert.equal(si.digestAlgorithm.algorithmId, OID.sha256);
      assert.equal(si.unsignedAttrs, undefined);
      assert.deepEqual(si.signedAttrs?.attributes.map((a) => a.type).sort(), [OID.contentType, OID.messageDigest, OID.signingTime, OID.recipientEmails].sort());
      if (scheme === 'pss') {
        assert.equal(si.signatureAlgorithm.algorithmId, OID.rsassaPss);
        const params = new pkijs.RSASSAPSSParams({ schema: si.signatureAlgorithm.algorithmParams });
        assert.equal(params.saltLength, 32);
        assert.equal(params.hashAlgorithm.algorithmId, OID.sha256);
        assert.equal(params.maskGenAlgorithm.algorithmId, OID.mgf1);
      } else {
        assert.equal(si.signatureAlgorithm.algorithmId, OID.sha256WithRSAEncryption);
      }
      const result = await sd.verify({ signer: 0, checkChain: false, extendedMode: true });
      assert.equal(result.signatureVerified, true);
    });
  }

  test('takes the private key as CryptoKey, PKCS#8 DER or KeyObject', () => {
    const opts = { scheme: 'pkcs1' as const, recipientEmails: emailsFor(pki.recipient) };
    const keyObject = createPrivateKey({ key: Buffer.from(pki.signer.pkcs8), format: 'der', type: 'pkcs8' });
    for (const privateKey of [pki.signer.privateKey, pki.signer.pkcs8, keyObject]) {
      const v = verifySignedData(signData(content, { certDer: pki.signer.certDer, privateKey }, opts), { trustAnchors: [pki.ca.certDer] });
      assert.ok(v.ok);
    }
  });

  test('refuses unusable signing input', () => {
    const opts = { scheme: 'pss' as const, recipientEmails: emailsFor(pki.recipient) };
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    assert.equal(codeOf(() => signData(content, { certDer: pki.signer.certDer, privateKey: pki.recipient.pkcs8 }, opts)), 'invalid-input', 'key of another certificate');
    assert.equal(codeOf(() => signData(content, { certDer: pki.signer.certDer, privateKey: ec }, opts)), 'invalid-input', 'EC key');
    assert.equal(codeOf(() => signData(content, { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 }, opts)), 'invalid-input', 'keyEncipherment-only certificate');
    assert.equal(codeOf(() => signData(content, { certDer: randomBytes(300), privateKey: pki.signer.pkcs8 }, opts)), 'invalid-input', 'garbage certificate');
    assert.equal(codeOf(() => signData(content, { certDer: pki.signer.certDer, privateKey: randomBytes(64) }, opts)), 'invalid-input', 'garbage key');
    assert.equal(codeOf(() => signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.pkcs8 }, { ...opts, recipientEmails: [] })), 'invalid-input');
    assert.equal(codeOf(() => signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.pkcs8 }, { ...opts, signingTime: new Date(NaN) })), 'invalid-input');
  });

  test('writes GeneralizedTime from 2050 on and reads it back', () => {
    const signingTime = new Date('2051-01-02T03:04:05Z');
    const der = signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.pkcs8 }, { scheme: 'pkcs1', recipientEmails: emailsFor(pki.recipient), signingTime });
    assert.ok(Buffer.from(der).includes(Buffer.from('20510102030405Z')));
    const v = verifySignedData(der, { trustAnchors: [pki.ca.certDer], at: new Date() });
    assert.equal(v.signingTime?.toISOString(), signingTime.toISOString());
  });

  describe('failures are reported per check', () => {
    let der: Uint8Array;
    before(() => {
      der = signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(pki.recipient) });
    });

    test('a flipped byte in the signature fails only the signature check', () => {
      const v = verifySignedData(flipByteAt(der, der.length - 10), { trustAnchors: [pki.ca.certDer] });
      assert.equal(v.ok, false);
      assert.deepEqual(v.failed, ['signature']);
    });

    test('a flipped byte in the signed content fails only the digest check', () => {
      const v = verifySignedData(flipByteAt(der, indexOf(der, content) + 5), { trustAnchors: [pki.ca.certDer] });
      assert.deepEqual(v.failed, ['digest']);
      assert.match(v.checks.digest.detail, /does not match/);
    });

    test('a flipped byte in a signed attribute fails the signature check', () => {
      const v = verifySignedData(flipByteAt(der, indexOf(der, Buffer.from(pki.recipient.email))), { trustAnchors: [pki.ca.certDer] });
      assert.deepEqual(v.failed, ['signature']);
      assert.notEqual(v.recipientEmails[0]?.email, pki.recipient.email, 'the altered address is what the attribute now says');
    });

    test('an expired signer certificate fails the validity check', () => {
      const expired = signData(content, { certDer: pki.expiredSigner.certDer, privateKey: pki.expiredSigner.pkcs8 }, { scheme: 'pkcs1', recipientEmails: emailsFor(pki.recipient) });
      const v = verifySignedData(expired, { trustAnchors: [pki.ca.certDer] });
      assert.deepEqual(v.failed, ['validity']);
      assert.equal(v.checkedAtSource, 'signing-time');
      // Signed while it was valid: judged at the signing time, it passes.
      const earlier = new Date(Date.now() - 10 * 86_400_000);
      const old = signData(content, { certDer: pki.expiredSigner.certDer, privateKey: pki.expiredSigner.pkcs8 }, { scheme: 'pkcs1', recipientEmails: emailsFor(pki.recipient), signingTime: earlier });
      const v2 = verifySignedData(old, { trustAnchors: [pki.ca.certDer] });
      assert.ok(v2.ok, JSON.stringify(v2.checks));
      assert.equal(v2.checkedAt.getTime(), Math.floor(earlier.getTime() / 1000) * 1000);
    });

    test('a signing time in the future is not used as the check instant', () => {
      const future = signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.pkcs8 }, {
        scheme: 'pkcs1',
        recipientEmails: emailsFor(pki.recipient),
        signingTime: new Date(Date.now() + 3 * 86_400_000),
      });
      const v = verifySignedData(future, { trustAnchors: [pki.ca.certDer] });
      assert.equal(v.checkedAtSource, 'now');
      assert.ok(v.ok);
    });

    test('a certificate from a foreign CA fails the chain check', () => {
      const foreign = signData(content, { certDer: pki.foreignSigner.certDer, privateKey: pki.foreignSigner.pkcs8 }, { scheme: 'pss', recipientEmails: emailsFor(pki.recipient) });
      const v = verifySignedData(foreign, { trustAnchors: [pki.ca.certDer] });
      assert.deepEqual(v.failed, ['chain']);
      assert.match(v.checks.chain.detail, /no trust anchor issued/);
      assert.ok(verifySignedData(foreign, { trustAnchors: [pki.ca.certDer, pki.foreignCa.certDer] }).ok);
      assert.deepEqual(verifySignedData(der, { trustAnchors: [] }).failed, ['chain']);
    });

    test('a signer certificate without signing key usage fails the keyUsage check', async () => {
      // signData refuses such a certificate, so take a good signature and re-point it at an
      // encryption-only certificate for the same key (sid and certificates are not signed).
      const encOnly = await pki.issue({ email: pki.signer.email, usage: 'enc', keys: pki.signer.keys });
      const encCert = pkijs.Certificate.fromBER(encOnly.certDer);
      const swapped = rewrite(der, (root) => {
        const sd = innerOf(root);
        const certs = sd.valueBlock.value[3] as asn1js.Constructed;
        certs.valueBlock.value = [asn1js.fromBER(encOnly.certDer).result];
        const signerInfo = (sd.valueBlock.value[4] as asn1js.Set).valueBlock.value[0] as asn1js.Sequence;
        signerInfo.valueBlock.value[1] = new asn1js.Sequence({ value: [encCert.issuer.toSchema(), encCert.serialNumber] });
      });
      const v = verifySignedData(swapped, { trustAnchors: [pki.ca.certDer] });
      assert.deepEqual(v.failed, ['keyUsage']);
      assert.match(v.checks.keyUsage.detail, /keyEncipherment.*neither digitalSignature nor nonRepudiation/);
    });

    test('structural problems are typed errors', () => {
      assert.equal(codeOf(() => verifySignedData(der.subarray(0, der.length - 1), { trustAnchors: [] })), 'malformed');
      assert.equal(codeOf(() => verifySignedData(der.subarray(0, 100), { trustAnchors: [] })), 'malformed');
      assert.equal(codeOf(() => verifySignedData(Buffer.concat([der, Uint8Array.of(0)]), { trustAnchors: [] })), 'malformed', 'trailing byte');
      assert.equal(codeOf(() => verifySignedData(randomBytes(500), { trustAnchors: [] })), 'malformed');
      assert.equal(codeOf(() => verifySignedData(new Uint8Array(0), { trustAnchors: [] })), 'malformed');
      assert.equal(codeOf(() => verifySignedData(der, { trustAnchors: [randomBytes(50)] })), 'invalid-input');
      const envelope = encryptAuthEnveloped(content, recipientsFor(pki.recipient));
      assert.equal(codeOf(() => verifySignedData(envelope, { trustAnchors: [] })), 'unsupported');
    });

    test('a SignedData without the signer certificate: signer-not-found', () => {
      const stripped = rewrite(der, (root) => {
        const sd = innerOf(root);
        sd.valueBlock.value = sd.valueBlock.value.filter((b) => !(b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0));
      });
      assert.equal(codeOf(() => verifySignedData(stripped, { trustAnchors: [pki.ca.certDer] })), 'signer-not-found');
    });

    // Requirements: gemSMIME_KOMLE: KOM-LE-A_2123 (on receipt)
    test('two SignerInfos are refused (KOM-LE allows exactly one)', () => {
      const doubled = rewrite(der, (root) => {
        const infos = innerOf(root).valueBlock.value.at(-1) as asn1js.Set;
        infos.valueBlock.value.push(infos.valueBlock.value[0]!);
      });
      assert.equal(codeOf(() => verifySignedData(doubled, { trustAnchors: [pki.ca.certDer] })), 'unsupported');
    });
  });
});

describe('AuthEnvelopedData', () => {
  const content = Buffer.concat([Buffer.from('Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße aus der Praxis\r\n', 'utf8'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);

  for (const count of [1, 3]) {
    test(`round trip with ${count} recipient(s), each can decrypt`, () => {
      const ids = [pki.recipient, second, third].slice(0, count);
      const der = encryptAuthEnveloped(content, recipientsFor(...ids));
      for (const id of ids) {
        const out = decryptAuthEnveloped(der, { certDer: id.certDer, privateKey: id.privateKey });
        assert.deepEqual(Buffer.from(out.content), content);
        assert.equal(out.contentType, OID.data);
        assert.equal(out.recipientInfoCount, count);
        assert.ok(compareRecipientEmails(out.recipientEmails, emailsFor(...ids)).equal);
      }
    });
  }

  test('round trip with 50 recipients', async () => {
    const keys = await pki.generateKeys();
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => pki.issue({ email: `praxis${i}@test.kim.telematik`, usage: 'enc', keys })));
    const der = encryptAuthEnveloped(content, recipientsFor(...ids));
    for (const id of ids) {
      const out = decryptAuthEnveloped(der, { certDer: id.certDer, privateKey: id.pkcs8 });
      assert.deepEqual(Buffer.from(out.content), content);
      assert.equal(out.recipientEmails.length, 50);
    }
    assert.equal(codeOf(() => decryptAuthEnveloped(der, { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 })), 'no-recipient');
  });

  test('empty content', () => {
    const der = encryptAuthEnveloped(new Uint8Array(0), recipientsFor(pki.recipient));
    assert.equal(decryptAuthEnveloped(der, { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 }).content.length, 0);
  });

  test('sign, then encrypt, a 20 MB body; decrypt and verify', (t) => {
    const body = randomBytes(20 * 1024 * 1024);
    const t0 = performance.now();
    const signed = signData(body, { certDer: pki.signer.certDer, privateKey: pki.signer.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(pki.recipient, second) });
    const sealed = encryptAuthEnveloped(signed, recipientsFor(pki.recipient, second));
    const t1 = performance.now();
    const opened = decryptAuthEnveloped(sealed, { certDer: second.certDer, privateKey: second.privateKey });
    const v = verifySignedData(opened.content, { trustAnchors: [pki.ca.certDer] });
    const t2 = performance.now();
    assert.ok(v.ok);
    assert.ok(Buffer.from(v.content).equals(body));
    assert.ok(compareRecipientEmails(v.recipientEmails, opened.recipientEmails).equal, 'signed and unauthenticated copies agree');
    t.diagnostic(`20 MB: seal ${(t1 - t0).toFixed(0)} ms, open ${(t2 - t1).toFixed(0)} ms`);
  });

  // Requirements: gemSMIME_KOMLE: KOM-LE-A_2106 (no originatorInfo), KOM-LE-A_2107 (unauthAttrs), KOM-LE-A_2108, KOM-LE-A_2109, KOM-LE-A_2112; gemSpec_CM_KOMLE: KOM-LE-A_2191
  test('uses RSAES-OAEP SHA-256 and AES-256-GCM with a 12-byte nonce and 16-byte tag, no authAttrs', () => {
    const der = encryptAuthEnveloped(content, recipientsFor(pki.recipient));
    const ci = pkijs.ContentInfo.fromBER(der);
    assert.equal(ci.contentType, OID.authEnvelopedData);
    const fields = (ci.content as asn1js.Sequence).valueBlock.value;
    assert.deepEqual(fields.map((f) => `${f.idBlock.tagClass}:${f.idBlock.tagNumber}`), ['1:2', '1:17', '1:16', '1:4', '3:2']);
    assert.equal((fields[0] as asn1js.Integer).valueBlock.valueDec, 0);
    const ri = new pkijs.RecipientInfo({ schema: (fields[1] as asn1js.Set).valueBlock.value[0] });
    const ktri = ri.value as pkijs.KeyTransRecipientInfo;
    assert.equal(ktri.version, 0);
    assert.ok(ktri.rid instanceof pkijs.IssuerAndSerialNumber);
    assert.equal(ktri.keyEncryptionAlgorithm.algorithmId, OID.rsaesOaep);
    const oaep = new pkijs.RSAESOAEPParams({ schema: ktri.keyEncryptionAlgorithm.algorithmParams });
    assert.equal(oaep.hashAlgorithm.algorithmId, OID.sha256);
    assert.equal(oaep.maskGenAlgorithm.algorithmId, OID.mgf1);
    const eci = new pkijs.EncryptedContentInfo({ schema: fields[2] });
    assert.equal(eci.contentEncryptionAlgorithm.algorithmId, OID.aes256Gcm);
    const gcm = (eci.contentEncryptionAlgorithm.algorithmParams as asn1js.Sequence).valueBlock.value;
    assert.equal((gcm[0] as asn1js.OctetString).valueBlock.valueHexView.length, 12);
    assert.equal((gcm[1] as asn1js.Integer).valueBlock.valueDec, 16);
    assert.equal((fields[3] as asn1js.OctetString).valueBlock.valueHexView.length, 16);
    assert.equal(eci.encryptedContent?.valueBlock.valueHexView.length, content.length, 'ciphertext without the tag');
  });

  describe('failures are typed', () => {
    let der: Uint8Array;
    let wrongKey: Uint8Array;
    before(async () => {
      der = encryptAuthEnveloped(content, recipientsFor(pki.recipient, second));
      wrongKey = (await pki.issue({ email: 'x@test.kim.telematik', usage: 'enc' })).pkcs8;
    });
    const ours = () => ({ certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 });
    /** Where the ciphertext starts, found with PKI.js rather than our own reader. */
    const ciphertextOffset = (d: Uint8Array): number => {
      const parsed = pkijs.ContentInfo.fromBER(d);
      const eci = new pkijs.EncryptedContentInfo({ schema: (parsed.content as asn1js.Sequence).valueBlock.value[2] });
      return indexOf(d, eci.encryptedContent!.valueBlock.valueHexView);
    };

    test('the right certificate with the wrong private key: decrypt-failed', () => {
      assert.equal(codeOf(() => decryptAuthEnveloped(der, { certDer: pki.recipient.certDer, privateKey: wrongKey })), 'decrypt-failed');
    });

    test('a certificate that is not among the recipients: no-recipient', () => {
      assert.equal(codeOf(() => decryptAuthEnveloped(der, { certDer: third.certDer, privateKey: third.pkcs8 })), 'no-recipient');
    });

    test('a flipped byte in the ciphertext: tag-mismatch', () => {
      assert.equal(codeOf(() => decryptAuthEnveloped(flipByteAt(der, ciphertextOffset(der) + 3), ours())), 'tag-mismatch');
    });

    test('a flipped byte in the tag: tag-mismatch', () => {
      const tagOffset = ciphertextOffset(der) + content.length + 2; // after the ciphertext: 04 10 <tag>
      assert.equal(der[tagOffset - 2], 0x04);
      assert.equal(codeOf(() => decryptAuthEnveloped(flipByteAt(der, tagOffset + 7), ours())), 'tag-mismatch');
    });

    test('a flipped byte in our encryptedKey: decrypt-failed', () => {
      const damaged = rewrite(der, (root) => {
        for (const ri of (innerOf(root).valueBlock.value[1] as asn1js.Set).valueBlock.value) {
          const key = (ri as asn1js.Sequence).valueBlock.value[3] as asn1js.OctetString;
          const bytes = Uint8Array.from(key.valueBlock.valueHexView);
          bytes[100] = (bytes[100] ?? 0) ^ 0x40;
          key.valueBlock.valueHexView = bytes;
        }
      });
      assert.equal(codeOf(() => decryptAuthEnveloped(damaged, ours())), 'decrypt-failed');
    });

    test('truncated, padded and garbage input: malformed', () => {
      for (const cut of [1, 17, 100, der.length - 1]) assert.equal(codeOf(() => decryptAuthEnveloped(der.subarray(0, cut), ours())), 'malformed', `cut ${cut}`);
      assert.equal(codeOf(() => decryptAuthEnveloped(Buffer.concat([der, Uint8Array.of(0, 0)]), ours())), 'malformed');
      assert.equal(codeOf(() => decryptAuthEnveloped(randomBytes(1000), ours())), 'malformed');
    });

    test('a SignedData is not an AuthEnvelopedData: unsupported', () => {
      const signed = signData(content, { certDer: pki.signer.certDer, privateKey: pki.signer.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(pki.recipient) });
      assert.equal(codeOf(() => decryptAuthEnveloped(signed, ours())), 'unsupported');
    });

    test('wrong algorithm OIDs and parameter lengths', () => {
      const withGcm = (edit: (params: asn1js.Sequence, alg: asn1js.Sequence) => void) =>
        rewrite(der, (root) => {
          const alg = (innerOf(root).valueBlock.value[2] as asn1js.Sequence).valueBlock.value[1] as asn1js.Sequence;
          edit(alg.valueBlock.value[1] as asn1js.Sequence, alg);
        });
      const cbc = withGcm((_p, alg) => {
        alg.valueBlock.value[0] = new asn1js.ObjectIdentifier({ value: '2.16.840.1.101.3.4.1.42' });
      });
      assert.equal(codeOf(() => decryptAuthEnveloped(cbc, ours())), 'unsupported');
      const shortNonce = withGcm((p) => {
        p.valueBlock.value[0] = new asn1js.OctetString({ valueHex: new Uint8Array(8) });
      });
      assert.equal(codeOf(() => decryptAuthEnveloped(shortNonce, ours())), 'unsupported');
      const icv12 = withGcm((p) => {
        p.valueBlock.value[1] = new asn1js.Integer({ value: 12 });
      });
      assert.equal(codeOf(() => decryptAuthEnveloped(icv12, ours())), 'malformed', 'mac length disagrees with aes-ICVlen');
      const version2 = rewrite(der, (root) => {
        innerOf(root).valueBlock.value[0] = new asn1js.Integer({ value: 2 });
      });
      assert.equal(codeOf(() => decryptAuthEnveloped(version2, ours())), 'unsupported');
      const pkcs1Transport = rewrite(der, (root) => {
        for (const ri of (innerOf(root).valueBlock.value[1] as asn1js.Set).valueBlock.value) {
          (ri as asn1js.Sequence).valueBlock.value[2] = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.rsaEncryption }), new asn1js.Null()] });
        }
      });
      assert.equal(codeOf(() => decryptAuthEnveloped(pkcs1Transport, ours())), 'unsupported');
    });

    test('refuses unusable encryption input', () => {
      assert.equal(codeOf(() => encryptAuthEnveloped(content, [])), 'invalid-input');
      assert.equal(codeOf(() => encryptAuthEnveloped(content, [{ certDer: randomBytes(100), email: 'a@b.de' }])), 'invalid-input');
      assert.equal(codeOf(() => encryptAuthEnveloped(content, [{ certDer: pki.signer.certDer, email: pki.signer.email }])), 'invalid-input', 'no keyEncipherment');
      assert.equal(codeOf(() => encryptAuthEnveloped(content, [{ certDer: pki.recipient.certDer, email: 'jörg@test.kim.telematik' }])), 'invalid-input');
      assert.equal(codeOf(() => decryptAuthEnveloped(der, { certDer: pki.recipient.certDer, privateKey: randomBytes(10) })), 'invalid-input');
    });
  });

  test('authAttrs, when present, are the AAD (RFC 5083: DER with a SET tag)', () => {
    // An envelope built here, independently of encryptAuthEnveloped, with asn1js and node:crypto.
    const cek = randomBytes(32);
    const nonce = randomBytes(12);
    const authAttrs = [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.contentType }), new asn1js.Set({ value: [new asn1js.ObjectIdentifier({ value: OID.data })] })] }),
    ];
    const aad = new Uint8Array(new asn1js.Set({ value: authAttrs }).toBER());
    const cipher = createCipheriv('aes-256-gcm', cek, nonce, { authTagLength: 16 });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(content), cipher.final()]);
    const tag = cipher.getAuthTag();
    const cert = pkijs.Certificate.fromBER(pki.recipient.certDer);
    const encryptedKey = publicEncrypt({ key: createPrivateKey({ key: Buffer.from(pki.recipient.pkcs8), format: 'der', type: 'pkcs8' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
    const sha256 = () => new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.sha256 })] });
    const build = (attrs: asn1js.BaseBlock[]) =>
      new Uint8Array(
        new asn1js.Sequence({
          value: [
            new asn1js.ObjectIdentifier({ value: OID.authEnvelopedData }),
            new asn1js.Constructed({
              idBlock: { tagClass: 3, tagNumber: 0 },
              value: [
                new asn1js.Sequence({
                  value: [
                    new asn1js.Integer({ value: 0 }),
                    new asn1js.Set({
                      value: [
                        new asn1js.Sequence({
                          value: [
                            new asn1js.Integer({ value: 0 }),
                            new asn1js.Sequence({ value: [cert.issuer.toSchema(), cert.serialNumber] }),
                            new asn1js.Sequence({
                              value: [
                                new asn1js.ObjectIdentifier({ value: OID.rsaesOaep }),
                                new asn1js.Sequence({
                                  value: [
                                    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [sha256()] }),
                                    new asn1js.Constructed({
                                      idBlock: { tagClass: 3, tagNumber: 1 },
                                      value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.mgf1 }), sha256()] })],
                                    }),
                                  ],
                                }),
                              ],
                            }),
                            new asn1js.OctetString({ valueHex: encryptedKey }),
                          ],
                        }),
                      ],
                    }),
                    new asn1js.Sequence({
                      value: [
                        new asn1js.ObjectIdentifier({ value: OID.data }),
                        new asn1js.Sequence({
                          value: [new asn1js.ObjectIdentifier({ value: OID.aes256Gcm }), new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: nonce }), new asn1js.Integer({ value: 16 })] })],
                        }),
                        new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: ciphertext }),
                      ],
                    }),
                    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value: attrs }),
                    new asn1js.OctetString({ valueHex: tag }),
                  ],
                }),
              ],
            }),
          ],
        }).toBER(),
      );
    const out = decryptAuthEnveloped(build(authAttrs), { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 });
    assert.deepEqual(Buffer.from(out.content), content);
    assert.deepEqual(out.recipientEmails, [], 'no unauthAttrs: no recipient-emails');
    // Another authenticated attribute value than the one in the AAD: the tag no longer matches.
    const altered = [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.contentType }), new asn1js.Set({ value: [new asn1js.ObjectIdentifier({ value: OID.signedData })] })] })];
    assert.equal(codeOf(() => decryptAuthEnveloped(build(altered), { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 })), 'tag-mismatch');
  });
});

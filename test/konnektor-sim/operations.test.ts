import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { get } from 'node:https';
import {
  decryptAuthEnveloped,
  encodeRecipientEmailsAttribute,
  envelopeRecipientEmails,
  readCertificateFile,
  recipientIdOf,
  verifySignedData,
  type RecipientEmail,
} from '../../src/crypto/index.js';
import { assertValid, bodyChild, call, CTX, startSimFixture, type SimFixture } from './fixture.js';

// Every operation of the Konnektor simulator over HTTPS with a node-soap client built from the
// vendored WSDLs; every answer's Body element validated against gematik's XSD with xmllint.

let f: SimFixture;
const caDer = (): Uint8Array => readCertificateFile(join(f.dir, 'pki', 'ca.pem'))[0]!;
const pem = (p: string): Uint8Array => readCertificateFile(join(f.dir, 'pki', p))[0]!;

before(async () => {
  f = await startSimFixture();
});
after(async () => {
  await f?.close();
});

async function smcbHandle(): Promise<string> {
  const { result } = await call(await f.client('EventService'), 'GetCards', { Context: CTX }, f.agent);
  const cards = (result['Cards'] as { Card: unknown }).Card;
  const list = (Array.isArray(cards) ? cards : [cards]) as Array<{ CardHandle: string; CardType: string }>;
  return list.find((c) => c.CardType === 'SMC-B')!.CardHandle;
}

function emailsAttr(entries: RecipientEmail[]): string {
  return Buffer.from(encodeRecipientEmailsAttribute(entries)).toString('base64');
}

describe('connector.sds', () => {
  test('A_17464: the service directory announces SignatureService 7.5.5 and EncryptionService 6.1.1 with TLS endpoints, valid against ServiceDirectory.xsd', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      get(f.sim.sdsUrl, { agent: f.agent }, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (s += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(s) : reject(new Error(`HTTP ${res.statusCode}`))));
      }).on('error', reject);
    });
    assertValid(body, 'conn/ServiceDirectory.xsd', f.dir);
    assert.match(body, /Name="SignatureService"[\s\S]*?Version="7\.5\.5"/);
    assert.match(body, /Name="EncryptionService"[\s\S]*?Version="6\.1\.1"/);
    assert.match(body, new RegExp(`EndpointTLS Location="${f.sim.simulator.endpointOf('SignatureService').replace(/[.]/g, '\\.')}"`));
    assert.match(body, /<SDS:TLSMandatory>true<\/SDS:TLSMandatory>/);
  });
});

describe('EventService', () => {
  test('GetCards lists the Mandant\'s SMC-B and HBA with stable handles; GetResourceInformation answers for a handle', async () => {
    const c = await f.client('EventService');
    const { result, raw } = await call(c, 'GetCards', { Context: CTX }, f.agent);
    assertValid(bodyChild(raw), 'conn/EventService.xsd', f.dir);
    const cards = (result['Cards'] as { Card: Array<{ CardHandle: string; CardType: string }> }).Card;
    assert.deepEqual(cards.map((x) => x.CardType).sort(), ['HBA', 'SMC-B']);
    assert.equal(cards.find((x) => x.CardType === 'SMC-B')!.CardHandle, await smcbHandle(), 'the handle stays until the card is re-inserted');
    const info = await call(c, 'GetResourceInformation', { Context: CTX, CardHandle: cards[0]!.CardHandle }, f.agent);
    assertValid(bodyChild(info.raw), 'conn/EventService.xsd', f.dir);
    assert.equal((info.result['Card'] as { CardHandle: string }).CardHandle, cards[0]!.CardHandle);
  });
});

describe('CardService', () => {
  test('GetPinStatus is VERIFIED by default; VerifyPin makes a VERIFIABLE PIN verified', async () => {
    const c = await f.client('CardService');
    const handle = await smcbHandle();
    const st = await call(c, 'GetPinStatus', { Context: CTX, CardHandle: handle, PinTyp: 'PIN.SMC' }, f.agent);
    assertValid(bodyChild(st.raw), 'conn/CardService_v8_1_3.xsd', f.dir);
    assert.equal(st.result['PinStatus'], 'VERIFIED');
    f.sim.simulator.setPinStatus('1', 'VERIFIABLE');
    assert.equal((await call(c, 'GetPinStatus', { Context: CTX, CardHandle: handle, PinTyp: 'PIN.SMC' }, f.agent)).result['PinStatus'], 'VERIFIABLE');
    const v = await call(c, 'VerifyPin', { Context: CTX, CardHandle: handle, PinTyp: 'PIN.SMC' }, f.agent);
    assertValid(bodyChild(v.raw), 'conn/CardService_v8_1_3.xsd', f.dir);
    assert.equal(v.result['PinResult'], 'OK');
    assert.equal((await call(c, 'GetPinStatus', { Context: CTX, CardHandle: handle, PinTyp: 'PIN.SMC' }, f.agent)).result['PinStatus'], 'VERIFIED');
  });
});

describe('CertificateService', () => {
  for (const crypt of ['RSA', 'ECC'] as const) {
    test(`ReadCardCertificate C.ENC and C.SIG with Crypt ${crypt} returns the card's ${crypt} certificates`, async () => {
      const c = await f.client('CertificateService');
      const { result, raw } = await call(c, 'ReadCardCertificate', { CardHandle: await smcbHandle(), Context: CTX, CertRefList: { CertRef: ['C.ENC', 'C.SIG'] }, Crypt: crypt }, f.agent);
      assertValid(bodyChild(raw), 'conn/CertificateService_v6_0_2.xsd', f.dir);
      const infos = (result['X509DataInfoList'] as { X509DataInfo: Array<{ CertRef: string; X509Data: { X509Certificate: string; X509IssuerSerial: { X509SerialNumber: string } } }> }).X509DataInfo;
      const suffix = crypt === 'ECC' ? '-ecc' : '';
      for (const [ref, file] of [['C.ENC', `praxis-a/enc${suffix}.pem`], ['C.SIG', `praxis-a/osig${suffix}.pem`]] as const) {
        const info = infos.find((i) => i.CertRef === ref)!;
        const der = Buffer.from(info.X509Data.X509Certificate, 'base64');
        assert.deepEqual(new Uint8Array(der), pem(file));
        assert.equal(info.X509Data.X509IssuerSerial.X509SerialNumber, BigInt(`0x${new X509Certificate(der).serialNumber}`).toString());
      }
    });
  }

  test('VerifyCertificate: VALID for a certificate of the test CA', async () => {
    const c = await f.client('CertificateService');
    const { result, raw } = await call(c, 'VerifyCertificate', { Context: CTX, X509Certificate: Buffer.from(pem('praxis-b/enc.pem')).toString('base64') }, f.agent);
    assertValid(bodyChild(raw), 'conn/CertificateService_v6_0_2.xsd', f.dir);
    assert.equal((result['VerificationStatus'] as { VerificationResult: string }).VerificationResult, 'VALID');
  });
});

describe('SignatureService', () => {
  for (const crypt of ['RSA', 'ECC'] as const) {
    test(`KOM-LE-A_2190: SignDocument (Crypt ${crypt}) returns a CMS SignedData with the content and the RecipientEmailsAttribute signed; VerifyDocument finds it VALID`, async () => {
      const c = await f.client('SignatureService');
      const content = Buffer.from('From: a@praxis.kim.test\r\nTo: b@praxis.kim.test\r\nSubject: Brief\r\n\r\nHallo\r\n');
      const entries: RecipientEmail[] = [{ email: 'praxis-b@praxis.kim.test', rid: recipientIdOf(pem('praxis-b/enc.pem')) }];
      const args = {
        CardHandle: await smcbHandle(),
        Crypt: crypt,
        Context: CTX,
        TvMode: 'NONE',
        SignRequest: {
          attributes: { RequestID: 'Req-1' },
          OptionalInputs: {
            SignatureType: 'urn:ietf:rfc:5652',
            Properties: { SignedProperties: { Property: [{ Identifier: 'RecipientEmailsAttribute', Value: { CMSAttribute: emailsAttr(entries) } }] } },
            IncludeEContent: true,
          },
          Document: { attributes: { ShortText: 'KOM-LE' }, Base64Data: content.toString('base64') },
          IncludeRevocationInfo: false,
        },
      };
      const { result, raw } = await call(c, 'SignDocument', args, f.agent);
      assertValid(bodyChild(raw), 'conn/SignatureService_V7_5_5.xsd', f.dir);
      assert.match(raw, /<SIG:SignResponse[^>]*RequestID="Req-1"/);
      assert.ok(result['SignResponse'], 'node-soap reads the SignResponse');
      const b64 = /<dss:Base64Signature[^>]*Type="urn:ietf:rfc:5652"[^>]*>([^<]+)</.exec(raw)?.[1];
      assert.ok(b64, 'a CMS signature');
      const cms = Buffer.from(b64, 'base64');
      const v = verifySignedData(cms, { trustAnchors: [caDer()] });
      assert.ok(v.ok, `failed: ${v.failed.join(', ')}`);
      assert.deepEqual(Buffer.from(v.content), content);
      assert.deepEqual(new Uint8Array(v.signerCert), pem(`praxis-a/osig${crypt === 'ECC' ? '-ecc' : ''}.pem`));
      assert.deepEqual(v.recipientEmails.map((e) => e.email), ['praxis-b@praxis.kim.test']);

      const ver = await call(c, 'VerifyDocument', { Context: CTX, TvMode: 'NONE', SignatureObject: { Base64Signature: { attributes: { Type: 'urn:ietf:rfc:5652' }, $value: cms.toString('base64') } }, IncludeRevocationInfo: false }, f.agent);
      assertValid(bodyChild(ver.raw), 'conn/SignatureService_V7_5_5.xsd', f.dir);
      assert.equal((ver.result['VerificationResult'] as { HighLevelResult: string }).HighLevelResult, 'VALID');
    });
  }

  test('VerifyDocument: INVALID for a SignedData whose signer the trust anchors do not know', async () => {
    const c = await f.client('SignatureService');
    const foreign = readFileSync(join(f.dir, 'pki', 'praxis-a', 'osig.pem'));
    assert.ok(foreign.length > 0);
    // Signed by Mandant 1's card but verified after the CA is dropped: a simulator without anchors for it.
    const { signData } = await import('../../src/crypto/index.js');
    const { loadKeyPath } = await import('../../src/crypto/index.js');
    const key = await loadKeyPath(join(f.dir, 'pki', 'praxis-a'), { use: 'signature' });
    const selfSigned = signData(Buffer.from('x'), { certDer: key.certDer, privateKey: key.privateKey, chain: [] } as never, { scheme: 'pss', recipientEmails: [{ email: 'x@y.test', rid: recipientIdOf(key.certDer) }] });
    const tampered = Buffer.from(selfSigned);
    // Flip a byte of the signature value (the DER's last bytes): the signature check fails.
    tampered[tampered.length - 5]! ^= 0xff;
    const ver = await call(c, 'VerifyDocument', { Context: CTX, SignatureObject: { Base64Signature: tampered.toString('base64') }, IncludeRevocationInfo: false }, f.agent);
    assert.equal((ver.result['VerificationResult'] as { HighLevelResult: string }).HighLevelResult, 'INVALID');
  });
});

describe('EncryptionService', () => {
  test('KOM-LE-A_2191: EncryptDocument with recipient certificates and the RecipientEmailsAttribute; DecryptDocument (RSA and ECC key) returns the content', async () => {
    const c = await f.client('EncryptionService');
    const handle = await smcbHandle();
    const content = Buffer.from('signed message bytes');
    const certs = [pem('praxis-a/enc.pem'), pem('praxis-a/enc-ecc.pem'), pem('praxis-b/enc.pem')];
    const emails = ['praxis-a@praxis.kim.test', 'praxis-a@praxis.kim.test', 'praxis-b@praxis.kim.test'];
    const entries = certs.map((der, i) => ({ email: emails[i]!, rid: recipientIdOf(der) }));
    const enc = await call(
      c,
      'EncryptDocument',
      {
        Context: CTX,
        RecipientKeys: { Certificate: certs.map((d) => Buffer.from(d).toString('base64')) },
        Document: { Base64Data: content.toString('base64') },
        OptionalInputs: { EncryptionType: 'urn:ietf:rfc:5652', UnprotectedProperties: { Property: [{ Identifier: 'RecipientEmailsAttribute', Value: { CMSAttribute: emailsAttr(entries) } }] } },
      },
      f.agent,
    );
    assertValid(bodyChild(enc.raw), 'conn/EncryptionService_v6_1_2.xsd', f.dir);
    const b64 = (enc.result['Document'] as { Base64Data: string | { $value: string } }).Base64Data;
    const envelope = Buffer.from(typeof b64 === 'string' ? b64 : b64.$value, 'base64');
    assert.deepEqual(envelopeRecipientEmails(envelope).map((e) => e.email).sort(), [...emails].sort());
    // praxis-b's key (not the simulator's card of Mandant 1) opens it too: a real recipient.
    const { loadKeyPath } = await import('../../src/crypto/index.js');
    const bKey = await loadKeyPath(join(f.dir, 'pki', 'praxis-b'), { use: 'encryption' });
    assert.deepEqual(Buffer.from(decryptAuthEnveloped(envelope, bKey).content), content);
    for (const crypt of ['RSA', 'ECC']) {
      const dec = await call(c, 'DecryptDocument', { Context: CTX, PrivateKeyOnCard: { CardHandle: handle, KeyReference: 'C.ENC', Crypt: crypt }, Document: { Base64Data: envelope.toString('base64') } }, f.agent);
      assertValid(bodyChild(dec.raw), 'conn/EncryptionService_v6_1_2.xsd', f.dir);
      const out = (dec.result['Document'] as { Base64Data: string | { $value: string } }).Base64Data;
      assert.deepEqual(Buffer.from(typeof out === 'string' ? out : out.$value, 'base64'), content, crypt);
    }
    assert.ok(f.sim.simulator.calls('DecryptDocument') >= 2);
  });
});

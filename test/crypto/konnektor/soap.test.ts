import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { configSchema } from '../../../src/config/index.js';
import {
  KonnektorError,
  SoapKonnektor,
  createKonnektor,
  createPkcs12,
  createSelfSignedTls,
  encodeRecipientEmailsAttribute,
  encryptAuthEnveloped,
  konnektorStatus,
  parseServiceDirectory,
  recipientIdOf,
  signData,
  type KonnektorContext,
  type PemPair,
  type SoapKonnektorOptions,
} from '../../../src/crypto/index.js';
import { KON_VERSION_PATTERN } from '../../../src/crypto/komle/constants.js';
import { KONNEKTOR_NS } from '../../../src/wire/konnektor/index.js';
import { WSDL_DIR } from '../../../src/crypto/konnektor/soap/call.js';
import { DEFAULT_SERVICES, sdsXml, startKonnektorFixture, type FixtureAnswer, type KonnektorFixture, type KonnektorFixtureOptions } from '../../helpers/konnektor-soap-fixture.js';
import { createTestPki, emailsFor, type TestPki } from '../../helpers/pki.js';

// The SOAP Konnektor client against a node-soap fixture made from the vendored WSDLs, over
// HTTPS on loopback: connector.sds, each operation (requests checked with xmllint against
// gematik's XSDs), TLS pinning/CA/client certificate, Basic auth, timeouts, faults, retries.

const CTX: KonnektorContext = { mandantId: 'Praxis 1', clientSystemId: 'KIM-CM', workplaceId: 'AP1' };
const NS = KONNEKTOR_NS;
const ns = (...p: Array<keyof typeof NS>): string => p.map((x) => `xmlns:${x}="${NS[x]}"`).join(' ');
const OK = '<CONN:Status><CONN:Result>OK</CONN:Result></CONN:Status>';
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

let dir: string;
let tls: PemPair;
let pin: string;
let pki: TestPki;
let signedData: Uint8Array;
let envelope: Uint8Array;

function cardXml(handle: string, type: string, iccsn: string): string {
  return `<CARD:Card><CONN:CardHandle>${handle}</CONN:CardHandle><CARDCMN:CardType>${type}</CARDCMN:CardType><CARDCMN:Iccsn>${iccsn}</CARDCMN:Iccsn><CARDCMN:CtId>CT1</CARDCMN:CtId><CARDCMN:SlotId>1</CARDCMN:SlotId><CARD:InsertTime>2025-01-01T00:00:00Z</CARD:InsertTime></CARD:Card>`;
}
const getCards = (...cards: string[]): FixtureAnswer => ({ xml: `<EVT:GetCardsResponse ${ns('EVT', 'CONN', 'CARD', 'CARDCMN')}>${OK}<CARD:Cards>${cards.join('')}</CARD:Cards></EVT:GetCardsResponse>` });
const certAnswer = (der: Uint8Array, ref = 'C.ENC'): FixtureAnswer => ({
  xml:
    `<CERT:ReadCardCertificateResponse ${ns('CERT', 'CERTCMN', 'CONN')}>${OK}<CERTCMN:X509DataInfoList><CERTCMN:X509DataInfo><CERTCMN:CertRef>${ref}</CERTCMN:CertRef>` +
    `<CERTCMN:X509Data><CERTCMN:X509IssuerSerial><CERTCMN:X509IssuerName>CN=Test</CERTCMN:X509IssuerName><CERTCMN:X509SerialNumber>1</CERTCMN:X509SerialNumber></CERTCMN:X509IssuerSerial>` +
    `<CERTCMN:X509SubjectName>CN=Praxis</CERTCMN:X509SubjectName><CERTCMN:X509Certificate>${b64(der)}</CERTCMN:X509Certificate></CERTCMN:X509Data></CERTCMN:X509DataInfo></CERTCMN:X509DataInfoList></CERT:ReadCardCertificateResponse>`,
});

function answers(): KonnektorFixtureOptions['answers'] {
  return {
    GetCards: getCards(cardXml('SMCB-1', 'SMC-B', '80276001011699900001'), cardXml('HBA-1', 'HBA', '80276001011699900002')),
    ReadCardCertificate: certAnswer(pki.recipient.certDer),
    SignDocument: { xml: `<SIG:SignDocumentResponse ${ns('SIG', 'CONN', 'dss')}><SIG:SignResponse RequestID="r1">${OK}<dss:SignatureObject><dss:Base64Signature Type="urn:ietf:rfc:5652">${b64(signedData)}</dss:Base64Signature></dss:SignatureObject></SIG:SignResponse></SIG:SignDocumentResponse>` },
    VerifyDocument: { xml: `<SIG:VerifyDocumentResponse ${ns('SIG', 'CONN')}>${OK}<SIG:VerificationResult><SIG:HighLevelResult>VALID</SIG:HighLevelResult><SIG:TimestampType>SYSTEM_TIMESTAMP</SIG:TimestampType><SIG:Timestamp>2025-01-01T00:00:00Z</SIG:Timestamp></SIG:VerificationResult></SIG:VerifyDocumentResponse>` },
    EncryptDocument: { xml: `<CRYPT:EncryptDocumentResponse ${ns('CRYPT', 'CONN', 'dss')}>${OK}<CONN:Document><dss:Base64Data>${b64(envelope)}</dss:Base64Data></CONN:Document></CRYPT:EncryptDocumentResponse>` },
    DecryptDocument: { xml: `<CRYPT:DecryptDocumentResponse ${ns('CRYPT', 'CONN', 'dss')}>${OK}<CONN:Document><dss:Base64Data>${b64(Buffer.from('the signed data'))}</dss:Base64Data></CONN:Document></CRYPT:DecryptDocumentResponse>` },
    GetPinStatus: { xml: `<CARD:GetPinStatusResponse ${ns('CARD', 'CONN')}>${OK}<CARD:PinStatus>VERIFIED</CARD:PinStatus><CARD:LeftTries>3</CARD:LeftTries></CARD:GetPinStatusResponse>` },
    VerifyPin: { xml: `<CARD:VerifyPinResponse ${ns('CARD', 'CARDCMN', 'CONN')}>${OK}<CARDCMN:PinResult>OK</CARDCMN:PinResult></CARD:VerifyPinResponse>` },
  };
}

function options(url: string, over: Partial<SoapKonnektorOptions['transport']> = {}, rest: Partial<SoapKonnektorOptions> = {}): SoapKonnektorOptions {
  return { url, cardCacheMs: 60_000, transport: { pinSha256: [pin], timeoutMs: 5_000, maxResponseBytes: 1024 * 1024, ...over }, ...rest };
}

const fixtures: KonnektorFixture[] = [];
const konnektoren: SoapKonnektor[] = [];
async function fixture(over: Partial<KonnektorFixtureOptions> = {}): Promise<KonnektorFixture> {
  const f = await startKonnektorFixture({ cert: tls.cert, key: tls.key, answers: answers(), ...over });
  fixtures.push(f);
  return f;
}
async function connect(o: SoapKonnektorOptions): Promise<SoapKonnektor> {
  const k = new SoapKonnektor(o);
  konnektoren.push(k);
  await k.ready();
  return k;
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<KonnektorError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KonnektorError, `a KonnektorError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

/** xmllint against the service's XSD from the vendor folder (a copy in the temp dir's path is not needed: imports resolve there). */
function validates(body: string, xsd: string): void {
  const file = join(dir, `req-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, body);
  const r = spawnSync('xmllint', ['--noout', '--schema', join(WSDL_DIR, xsd), file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `xmllint ${xsd}: ${r.stderr}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postamt-ksoap-'));
  tls = await createSelfSignedTls(['127.0.0.1', 'localhost']);
  pin = new X509Certificate(tls.cert).fingerprint256;
  pki = await createTestPki();
  signedData = signData(Buffer.from('the signed data'), { certDer: pki.signer.certDer, privateKey: pki.signer.privateKey }, { scheme: 'pss', recipientEmails: emailsFor(pki.recipient) });
  envelope = encryptAuthEnveloped(signedData, [{ certDer: pki.recipient.certDer, email: pki.recipient.email }]);
});

after(async () => {
  for (const k of konnektoren) await k.close();
  for (const f of fixtures) await f.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('connector.sds', () => {
  test('A_17464: ECC capable with SignatureService 7.5.5 and EncryptionService 6.1.1; A_21388-01 product line', () => {
    const sds = parseServiceDirectory(sdsXml('https://kon.example', DEFAULT_SERVICES), 'https://kon.example/connector.sds');
    assert.equal(sds.eccCapable, true);
    assert.equal(sds.productInfo, '<FixtureKon><Konnektor><5.1.0><1.0.0><5.1.2>');
    assert.match(sds.productInfo, KON_VERSION_PATTERN);
    assert.equal(sds.services.SignatureService.wsdlFile, 'SignatureService_V7_5_5.wsdl');
    assert.equal(sds.services.EventService.endpoint, 'https://kon.example/ws/EventService');
  });

  test('A_17464: not ECC capable below SignatureService 7.4.1 / EncryptionService 6.1.1; KOM-LE-A_2077: the WSDL of the announced version', () => {
    const old = DEFAULT_SERVICES.map((s) => (s.name === 'SignatureService' ? { ...s, version: '7.4.0' } : s.name === 'EncryptionService' ? { ...s, version: '6.1.0' } : s));
    const sds = parseServiceDirectory(sdsXml('https://kon.example', old), 'https://kon.example/connector.sds');
    assert.equal(sds.eccCapable, false);
    assert.equal(sds.services.SignatureService.wsdlFile, 'SignatureService.wsdl');
    assert.equal(sds.services.EncryptionService.wsdlFile, 'EncryptionService.wsdl');
    const mid = DEFAULT_SERVICES.map((s) => (s.name === 'SignatureService' ? { ...s, version: '7.4.1' } : s));
    const s741 = parseServiceDirectory(sdsXml('https://kon.example', mid), 'https://kon.example/connector.sds');
    assert.equal(s741.eccCapable, true);
    assert.equal(s741.services.SignatureService.wsdlFile, 'SignatureService_V7_4_2.wsdl');
  });

  test('a missing service, an http endpoint or no XML is unavailable', () => {
    assert.throws(() => parseServiceDirectory(sdsXml('https://k', DEFAULT_SERVICES.slice(1)), 'https://k/connector.sds'), (e: KonnektorError) => e.code === 'unavailable' && /EventService/.test(e.message));
    assert.throws(() => parseServiceDirectory(sdsXml('http://k', DEFAULT_SERVICES), 'https://k/connector.sds'), (e: KonnektorError) => e.code === 'unavailable' && /not https/.test(e.message));
    assert.throws(() => parseServiceDirectory('<ConnectorServices', 'https://k/connector.sds'), (e: KonnektorError) => e.code === 'unavailable');
    assert.throws(() => parseServiceDirectory('<!DOCTYPE x [<!ENTITY a "b">]><x/>', 'https://k/connector.sds'), (e: KonnektorError) => e.code === 'unavailable' && /DOCTYPE/.test(e.message));
  });
});

describe('operations over HTTPS (pinned)', () => {
  let f: KonnektorFixture;
  let k: SoapKonnektor;
  before(async () => {
    f = await fixture();
    k = await connect(options(f.url));
  });

  test('the fixture\'s answers are valid against the XSDs', () => {
    const xsd: Record<string, string> = {
      GetCards: 'EventService.xsd',
      ReadCardCertificate: 'CertificateService_v6_0_2.xsd',
      SignDocument: 'SignatureService_V7_5_5.xsd',
      VerifyDocument: 'SignatureService_V7_5_5.xsd',
      EncryptDocument: 'EncryptionService_v6_1_2.xsd',
      DecryptDocument: 'EncryptionService_v6_1_2.xsd',
      GetPinStatus: 'CardService_v8_1_3.xsd',
      VerifyPin: 'CardService_v8_1_3.xsd',
    };
    for (const [op, a] of Object.entries(answers())) validates((a as { xml: string }).xml, xsd[op]!);
  });

  test('ready() reads the directory; productInfo and eccCapable from it', () => {
    assert.equal(k.productInfo, '<FixtureKon><Konnektor><5.1.0><1.0.0><5.1.2>');
    assert.equal(k.eccCapable, true);
  });

  test('GetCards once per context (cached), ReadCardCertificate with CertRefList and Crypt; requests valid against the XSDs', async () => {
    const der = await k.readCardCertificate(CTX, 'C.ENC', 'RSA');
    assert.deepEqual(Buffer.from(der), Buffer.from(pki.recipient.certDer));
    await k.readCardCertificate(CTX, 'C.SIG', 'ECC').catch(() => undefined);
    assert.equal(f.count('GetCards'), 1);
    const gc = f.requests.find((r) => r.operation === 'GetCards')!;
    validates(gc.body, 'EventService.xsd');
    assert.match(gc.body, /<CONN:MandantId>Praxis 1<\/CONN:MandantId>/);
    const rc = f.requests.filter((r) => r.operation === 'ReadCardCertificate');
    for (const r of rc) validates(r.body, 'CertificateService_v6_0_2.xsd');
    assert.match(rc[0]!.body, /<CONN:CardHandle>SMCB-1<\/CONN:CardHandle>[\s\S]*<CERT:CertRef>C.ENC<\/CERT:CertRef>[\s\S]*<CERT:Crypt>RSA<\/CERT:Crypt>/);
  });

  test('KOM-LE-A_2190 KOM-LE-A_2020 KOM-LE-A_2052: SignDocument CMS with IncludeEContent and the recipient-emails attribute, the SMC-B, RSA', async () => {
    const emails = emailsFor(pki.recipient);
    const cms = await k.signDocument({ ...CTX, userId: 'dr-a' }, { content: Buffer.from('the signed data'), recipientEmails: emails });
    assert.deepEqual(Buffer.from(cms), Buffer.from(signedData));
    const r = f.requests.filter((x) => x.operation === 'SignDocument').at(-1)!;
    validates(r.body, 'SignatureService_V7_5_5.xsd');
    assert.match(r.body, /<dss:SignatureType>urn:ietf:rfc:5652<\/dss:SignatureType>/);
    assert.match(r.body, /<SIG:IncludeEContent>true<\/SIG:IncludeEContent>/);
    assert.match(r.body, /<CONN:CardHandle>SMCB-1<\/CONN:CardHandle><SIG:Crypt>RSA<\/SIG:Crypt>/);
    assert.match(r.body, /<CONN:UserId>dr-a<\/CONN:UserId>/);
    assert.ok(r.body.includes(`<dss:Identifier>RecipientEmailsAttribute</dss:Identifier><dss:Value><CMSAttribute>${b64(encodeRecipientEmailsAttribute(emails))}</CMSAttribute>`));
    assert.ok(r.body.includes(`<dss:Base64Data MimeType="message/rfc822">${b64(Buffer.from('the signed data'))}</dss:Base64Data>`));
  });

  test('KOM-LE-A_2191: EncryptDocument with every certificate and recipient-emails as UnprotectedProperties', async () => {
    const recipients = [{ certDer: pki.recipient.certDer, email: pki.recipient.email }];
    const out = await k.encryptDocument(CTX, { content: signedData, recipients });
    assert.deepEqual(Buffer.from(out), Buffer.from(envelope));
    const r = f.requests.filter((x) => x.operation === 'EncryptDocument').at(-1)!;
    validates(r.body, 'EncryptionService_v6_1_2.xsd');
    assert.ok(r.body.includes(`<CRYPT:Certificate>${b64(pki.recipient.certDer)}</CRYPT:Certificate>`));
    const attr = encodeRecipientEmailsAttribute([{ email: pki.recipient.email, rid: recipientIdOf(pki.recipient.certDer) }]);
    assert.ok(r.body.includes(`<CRYPT:UnprotectedProperties><dss:Property><dss:Identifier>RecipientEmailsAttribute</dss:Identifier><dss:Value><CMSAttribute>${b64(attr)}</CMSAttribute>`));
    assert.match(r.body, /<CRYPT:EncryptionType>urn:ietf:rfc:5652<\/CRYPT:EncryptionType>/);
  });

  test('KOM-LE-A_2059 KOM-LE-A_2060: DecryptDocument with the card whose C.ENC recipient-emails names; recipient-emails from the envelope', async () => {
    const out = await k.decryptDocument(CTX, { document: envelope, recipientIds: [recipientIdOf(pki.recipient.certDer)] });
    assert.equal(Buffer.from(out.content).toString(), 'the signed data');
    assert.equal(out.recipientInfoCount, 1);
    assert.deepEqual(out.recipientEmails.map((e) => e.email), [pki.recipient.email]);
    const r = f.requests.filter((x) => x.operation === 'DecryptDocument').at(-1)!;
    validates(r.body, 'EncryptionService_v6_1_2.xsd');
    assert.match(r.body, /<CRYPT:PrivateKeyOnCard><CONN:CardHandle>SMCB-1<\/CONN:CardHandle><CRYPT:KeyReference>C.ENC<\/CRYPT:KeyReference><CRYPT:Crypt>RSA<\/CRYPT:Crypt><\/CRYPT:PrivateKeyOnCard>/);
  });

  test('KOM-LE-A_2062: no card holds a named certificate → key-not-available, nothing sent to DecryptDocument', async () => {
    const before = f.count('DecryptDocument');
    await rejectsWith(k.decryptDocument(CTX, { document: envelope, recipientIds: [recipientIdOf(pki.signer.certDer)] }), 'key-not-available');
    assert.equal(f.count('DecryptDocument'), before);
  });

  test('VerifyDocument: the Konnektor\'s VALID is authoritative, content and recipient-emails read here', async () => {
    const v = await k.verifyDocument(CTX, { document: signedData });
    assert.equal(v.ok, true);
    assert.equal(Buffer.from(v.content).toString(), 'the signed data');
    assert.deepEqual(v.recipientEmails.map((e) => e.email), [pki.recipient.email]);
    assert.match(v.checks.chain.detail, /Konnektor VerifyDocument: VALID/);
    const r = f.requests.filter((x) => x.operation === 'VerifyDocument').at(-1)!;
    validates(r.body, 'SignatureService_V7_5_5.xsd');
  });

  test('GetPinStatus and VerifyPin (PIN.SMC for the SMC-B) and the status report', async () => {
    assert.deepEqual(await k.pinStatus(CTX), { status: 'VERIFIED', leftTries: 3 });
    assert.deepEqual(await k.verifyPin(CTX), { result: 'OK' });
    for (const r of f.requests.filter((x) => x.operation === 'GetPinStatus' || x.operation === 'VerifyPin')) validates(r.body, 'CardService_v8_1_3.xsd');
    assert.match(f.requests.find((x) => x.operation === 'VerifyPin')!.body, /<CARDCMN:PinTyp>PIN.SMC<\/CARDCMN:PinTyp>/);
    const s = await konnektorStatus(k, [CTX]);
    assert.equal(s.productInfo, k.productInfo);
    assert.equal(Object.keys(s.serviceVersions).length, 5);
    const card = s.cards[0]!;
    assert.deepEqual([card.handle, card.card, card.iccsn, card.pinStatus], ['SMCB-1', 'SMC-B', '80276001011699900001', 'VERIFIED (3 tries left)']);
    assert.ok(card.certificates.some((c) => c.ref === 'C.ENC' && c.crypt === 'RSA' && c.notAfter));
  });
});

describe('transport', () => {
  test('KOM-LE-A_2070: TLS only, a wrong pin is refused before any byte of a request is sent', async () => {
    const f = await fixture();
    const k = new SoapKonnektor(options(f.url, { pinSha256: ['00'.repeat(32)], basicAuth: { user: 'u', password: 'secret' } }));
    konnektoren.push(k);
    await rejectsWith(k.ready(), 'unavailable', /not one of the pinned/);
    assert.equal(f.requests.length, 0);
  });

  test('a CA instead of a pin; no CA and no pin: the system store refuses the self-signed Konnektor', async () => {
    const f = await fixture();
    await connect(options(f.url, { pinSha256: undefined, ca: [tls.cert] }));
    const k = new SoapKonnektor(options(f.url, { pinSha256: undefined }));
    konnektoren.push(k);
    await rejectsWith(k.ready(), 'unavailable');
  });

  test('KOM-LE-A_2072: HTTP Basic in the TLS channel: the Authorization header on every call', async () => {
    const f = await fixture();
    const k = await connect(options(f.url, { basicAuth: { user: 'kim', password: 'pw' } }));
    await k.readCardCertificate(CTX, 'C.ENC');
    assert.ok(f.requests.length >= 2);
    for (const r of f.requests) assert.equal(r.headers.authorization, 'Basic ' + Buffer.from('kim:pw').toString('base64'));
  });

  test('KOM-LE-A_2071: a client certificate from PKCS#12 (konnektor.soap.tls.clientP12) is presented', async () => {
    const f = await fixture({ requestCert: true });
    const client = await createSelfSignedTls(['kim-clientmodul']);
    const keyDer = Buffer.from(client.key.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const certDer = new Uint8Array(new X509Certificate(client.cert).raw);
    const p12 = await createPkcs12({ certDer, keyPkcs8Der: keyDer, password: 'p12pw', friendlyName: 'kim' });
    const p12File = join(dir, 'client.p12');
    writeFileSync(p12File, p12);
    const config = configSchema.parse({ dataDir: dir, konnektor: { type: 'soap', soap: { url: f.url, tls: { pinSha256: pin, clientP12: 'client.p12', password: 'p12pw' }, timeoutMs: 5000 } } });
    const k = createKonnektor(config.konnektor, dir) as SoapKonnektor;
    konnektoren.push(k);
    await k.ready!();
    await k.readCardCertificate(CTX, 'C.ENC');
    const fp = new X509Certificate(client.cert).fingerprint256;
    assert.ok(f.requests.length > 0);
    for (const r of f.requests.filter((x) => x.operation !== 'connector.sds')) assert.equal(r.clientCertFingerprint, fp);
  });

  test('a Konnektor that never answers: rejected within timeoutMs with unavailable (no retry of SignDocument)', async () => {
    const f = await fixture({ answers: { ...answers(), SignDocument: { hang: true } } });
    const k = await connect(options(f.url, { timeoutMs: 5000 }, { signTimeoutMs: 400 }));
    const t0 = Date.now();
    await rejectsWith(k.signDocument(CTX, { content: Buffer.from('x'), recipientEmails: emailsFor(pki.recipient) }), 'unavailable', /no answer in time/);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assert.equal(f.count('SignDocument'), 1);
  });

  test('KOM-LE-A_2076: GetCards is retried once after a network error (idempotent) and connector.sds read again; a closed port is unavailable', async () => {
    const f = await fixture({ answers: { ...answers(), GetCards: (n) => (n === 1 ? { hang: true } : answers().GetCards as FixtureAnswer) } });
    const k = await connect(options(f.url, { timeoutMs: 400 }));
    await k.readCardCertificate(CTX, 'C.ENC');
    assert.equal(f.count('GetCards'), 2);
    // KOM-LE-A_2076: the connection problem made it read the service directory again.
    await k.settled();
    assert.equal(f.count('connector.sds'), 2);
    const closed = new SoapKonnektor(options('https://127.0.0.1:1/connector.sds'));
    konnektoren.push(closed);
    await rejectsWith(closed.ready(), 'unavailable', /ECONNREFUSED/);
  });
});

describe('faults and broken answers', () => {
  for (const [code, expected] of [
    [4004, 'unknown-mandant'],
    [4005, 'unknown-client-system'],
    [4006, 'unknown-workplace'],
  ] as const) {
    test(`TelematikError ${code} → ${expected}`, async () => {
      const f = await fixture({ answers: { ...answers(), GetCards: { fault: code, text: 'Kontextfehler' } } });
      const k = await connect(options(f.url));
      await rejectsWith(k.readCardCertificate(CTX, 'C.ENC'), expected, new RegExp(`${code}`));
    });
  }

  test('a stale card handle (4101): GetCards read again and the call retried once', async () => {
    const f = await fixture({ answers: { ...answers(), ReadCardCertificate: (n) => (n === 1 ? { fault: 4101, text: 'Kartenhandle ungültig' } : certAnswer(pki.recipient.certDer)) } });
    const k = await connect(options(f.url));
    await k.readCardCertificate(CTX, 'C.ENC');
    assert.equal(f.count('GetCards'), 2);
    assert.equal(f.count('ReadCardCertificate'), 2);
  });

  test('a stale handle twice is card-not-found; an unknown code is refused with the code', async () => {
    const f = await fixture({ answers: { ...answers(), ReadCardCertificate: { fault: 4101 }, SignDocument: { fault: 4999, text: 'Sonstiges' } } });
    const k = await connect(options(f.url));
    await rejectsWith(k.readCardCertificate(CTX, 'C.ENC'), 'card-not-found');
    assert.equal(f.count('ReadCardCertificate'), 2);
    await rejectsWith(k.signDocument(CTX, { content: Buffer.from('x'), recipientEmails: emailsFor(pki.recipient) }), 'refused', /4999 Sonstiges/);
  });

  test('no SMC-B among the cards → card-not-found (KOM-LE-A_2057)', async () => {
    const f = await fixture({ answers: { ...answers(), GetCards: getCards(cardXml('EGK-1', 'EGK', '80276001011699900009')) } });
    const k = await connect(options(f.url));
    await rejectsWith(k.signDocument(CTX, { content: Buffer.from('x'), recipientEmails: emailsFor(pki.recipient) }), 'card-not-found');
  });

  test('malformed XML, a non-SOAP answer and an oversized answer are unavailable', async () => {
    const f = await fixture({ answers: { ...answers(), GetCards: { raw: '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><broken' }, EncryptDocument: { raw: '<html>hi</html>' }, DecryptDocument: { bytes: 2 * 1024 * 1024 } } });
    const k = await connect(options(f.url));
    await rejectsWith(k.readCardCertificate(CTX, 'C.ENC'), 'unavailable', /not XML/);
    await rejectsWith(k.encryptDocument(CTX, { content: Buffer.from('x'), recipients: [{ certDer: pki.recipient.certDer, email: pki.recipient.email }] }), 'unavailable', /no SOAP envelope/);
    const big = await fixture({ answers: { ...answers(), GetCards: { bytes: 2 * 1024 * 1024 } } });
    const k2 = await connect(options(big.url));
    await rejectsWith(k2.readCardCertificate(CTX, 'C.ENC'), 'unavailable', /maxResponseBytes/);
  });
});

describe('config', () => {
  test('konnektor.type soap needs its section; software configs stay valid', () => {
    assert.equal(configSchema.parse({ konnektor: {} }).konnektor.type, 'software');
    assert.throws(() => configSchema.parse({ konnektor: { type: 'soap' } }));
    assert.throws(() => configSchema.parse({ konnektor: { type: 'soap', soap: { url: 'http://kon/connector.sds' } } }));
    const c = configSchema.parse({ konnektor: { type: 'soap', soap: { url: 'https://kon/connector.sds', tls: { pinSha256: 'ab' } } } });
    assert.equal(c.konnektor.soap!.timeoutMs, 30_000);
    assert.equal(c.konnektor.soap!.maxResponseBytes, 64 * 1024 * 1024);
  });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import {
  CM_VERSION_PATTERN,
  KON_VERSION_PATTERN,
  PT_VERSION_PATTERN,
  SOFTWARE_KONNEKTOR_INFO,
  SoftwareKonnektor,
  decryptAuthEnveloped,
  openMessage,
  sealMessage,
  type EnvelopeRecipient,
} from '../../../src/crypto/index.js';
import { mime } from '../../../src/wire/index.js';
import { CTX_A, CTX_B, cardKey, createKomleWorld, envelopeOf, mandanten, splitMessage, type KomleWorld } from '../../helpers/komle.js';
import { postamtSync } from '../../helpers/process.js';

// The message format rules of sealing (gemSMIME_KOMLE, gemSpec_CM_KOMLE), each against what a
// recipient decrypts: the SignedData entity, the version, the outer header, the defaults.

let w: KomleWorld;
const NOW = new Date(`${new Date().toISOString().slice(0, 10)}T09:00:00Z`);

before(async () => {
  w = await createKomleWorld();
});

const toRecipient = (): EnvelopeRecipient[] => [{ certDer: w.pki.recipient.certDer, email: w.pki.recipient.email }];
const seal = (message: Uint8Array, extra: Partial<Parameters<typeof sealMessage>[1]> = {}) =>
  sealMessage(message, { konnektor: w.konnektor, context: CTX_A, senderEmail: w.pki.signer.email, recipients: toRecipient(), now: NOW, ...extra });

/** What the recipient's key decrypts: the SignedData MIME entity. */
function decryptedEntity(outer: Uint8Array): Buffer {
  return Buffer.from(decryptAuthEnveloped(envelopeOf(outer), cardKey(w.pki.recipient)).content);
}

/** A message with every field KOM-LE-A_2098-03 names, some twice, folded, 8-bit, and X-KIM-* fields of the PS. */
const FULL = Buffer.from(
  'Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n' +
    'From: =?utf-8?Q?Praxis_M=C3=BCller?= <praxis.sender@test.kim.telematik>\r\n' +
    'Sender: Empfang <praxis.sender@test.kim.telematik>\r\n' +
    'Reply-To: "Dr. Müller, Praxis" <antwort@test.kim.telematik>\r\n' +
    'To: <praxis.empfang@test.kim.telematik>,\r\n  "Zweite, Praxis" <zweite@test.kim.telematik>\r\n' +
    'Cc: dritte@test.kim.telematik\r\n' +
    'Cc: vierte@test.kim.telematik\r\n' +
    'Bcc: geheim@test.kim.telematik\r\n' +
    'Subject: Befund\r\n' +
    'Message-ID: <full-1@test.kim.telematik>\r\n' +
    'X-KIM-Sendersystem: PVS Test;1.0\r\n' +
    'x-kim-dienstkennung: Arztbrief;VHitG-Versand;V1.2\r\n' +
    'X-KIM-CMVersion: FAKE_9.9.9\r\n' +
    'X-KIM-DecryptionResult: 00\r\n' +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n',
  'latin1',
);

describe('the SignedData entity inside the encryption', () => {
  test('KOM-LE-A_2299-01: application/pkcs7-mime signed-data, Content-Transfer-Encoding binary, the raw DER after the empty line', async () => {
    const sealed = await seal(FULL);
    const entity = decryptedEntity(sealed.message);
    const { head, body } = splitMessage(entity);
    assert.equal(
      head,
      'Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: binary\r\nContent-Disposition: attachment; filename=smime.p7m\r\n\r\n',
    );
    // The body is exactly one DER object (a ContentInfo), not base64 text.
    assert.equal(body[0], 0x30);
    const parsed = asn1js.fromBER(Uint8Array.from(body));
    assert.notEqual(parsed.offset, -1);
    assert.equal(parsed.offset, body.length, 'one DER object fills the body');
    assert.match(body.toString('latin1'), /\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02/, 'id-signedData');
    // And the recipient opens it with every check passing.
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks.filter((c) => !c.ok)));
  });
});

describe('the outer header', () => {
  test('KOM-LE-A_2100-02: X-KOM-LE-Version is 1.0 by default (no KAS content); 1.5 only when asked for', async () => {
    const value = async (extra: Partial<Parameters<typeof sealMessage>[1]>) => mime.findFields(mime.readHeaderBlock((await seal(FULL, extra)).message).fields, 'X-KOM-LE-Version').map((f) => f.value);
    assert.deepEqual(await value({}), ['1.0']);
    assert.deepEqual(await value({ komLeVersion: '1.5' }), ['1.5']);
  });

  test('KOM-LE-A_2098-03 / KOM-LE-A_2101-01 / KOM-LE-A_2102: Date, From, Sender, Reply-To, To, Cc, Bcc byte for byte, the same Message-ID, every X-KIM-* of the PS but not our own or result fields, Subject KOM-LE-Nachricht', async () => {
    const sealed = await seal(FULL);
    const outer = mime.readHeaderBlock(sealed.message).fields;
    const inner = mime.readHeaderBlock(FULL).fields;
    const raw = (fields: readonly mime.HeaderField[], name: string) => mime.findFields(fields, name).map((f) => Buffer.from(f.raw).toString('latin1'));
    for (const name of ['Date', 'From', 'Sender', 'Reply-To', 'To', 'Cc', 'Bcc', 'Message-ID', 'X-KIM-Sendersystem', 'X-KIM-Dienstkennung']) {
      assert.ok(raw(inner, name).length > 0, `${name} is in the test message`);
      assert.deepEqual(raw(outer, name), raw(inner, name), `${name} repeated byte for byte`);
    }
    assert.deepEqual(raw(outer, 'Cc').length, 2, 'both Cc fields');
    assert.deepEqual(mime.findFields(outer, 'Subject').map((f) => f.value), ['KOM-LE-Nachricht']);
    assert.deepEqual(mime.findFields(outer, 'X-KIM-CMVersion').map((f) => f.value), ['POSTA_1.0.0'], 'our version, not the PS\'s');
    assert.equal(mime.findFields(outer, 'X-KIM-DecryptionResult').length, 0, 'a result field never goes out');
    assert.equal(mime.findFields(outer, 'X-KIM-Dienstkennung').length, 1, 'the PS value, no default beside it');
    // The receiving side compares them (08 when they differ) and finds them equal.
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.match(r.checks.find((c) => c.name === 'headers')!.detail, /From, Sender, Reply-To, To, Cc agree/, 'the fields KOM-LE-A_2048-01 names are compared');
  });

  test('A_19488-02 / Tab_Header_Kat: without a Dienstkennung from the PS, KIM-Mail;Default;V1.0 is written into the inner message (signed) and outside', async () => {
    const ps = Buffer.from('From: praxis.sender@test.kim.telematik\r\nTo: praxis.empfang@test.kim.telematik\r\nMessage-ID: <d-1@test>\r\nSubject: x\r\n\r\nHallo\r\n');
    const sealed = await seal(ps);
    assert.deepEqual(mime.findFields(mime.readHeaderBlock(sealed.message).fields, 'X-KIM-Dienstkennung').map((f) => f.value), ['KIM-Mail;Default;V1.0']);
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.deepEqual(mime.findFields(r.innerFields!, 'X-KIM-Dienstkennung').map((f) => f.value), ['KIM-Mail;Default;V1.0'], 'inside, under the signature');
    assert.equal(
      Buffer.from(r.inner!).toString('latin1'),
      'From: praxis.sender@test.kim.telematik\r\nTo: praxis.empfang@test.kim.telematik\r\nMessage-ID: <d-1@test>\r\nSubject: x\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n\r\nHallo\r\n',
      'appended to the header, nothing else changed',
    );
  });

  test('A_21388-01 / A_22417: X-KIM-CMVersion, X-KIM-PTVersion and X-KIM-KONVersion in gematik\'s formats, Expires = send time + dataTimeToLive', async () => {
    const sealed = await seal(FULL, { dataTimeToLiveDays: 10 });
    const outer = mime.readHeaderBlock(sealed.message).fields;
    const v = (n: string) => mime.findFields(outer, n).map((f) => f.value);
    assert.match(v('X-KIM-CMVersion')[0]!, CM_VERSION_PATTERN);
    assert.match(v('X-KIM-PTVersion')[0]!, PT_VERSION_PATTERN);
    assert.deepEqual(v('X-KIM-KONVersion'), [SOFTWARE_KONNEKTOR_INFO]);
    assert.match(SOFTWARE_KONNEKTOR_INFO, /^<[^<>]+><[^<>]+><\d+\.\d+\.\d+><\d+\.\d+\.\d+><\d+\.\d+\.\d+>$/, '<Productname><ProductType><ProductTypeVersion><HWVersion><FWVersion>');
    assert.match('<secunet konnektor 2.0.0><Konnektor PTV4Plus><4.80.3><2.0.0><4.10.1>', KON_VERSION_PATTERN, "gematik's example");
    assert.deepEqual(v('Expires'), [mime.formatRfc5322Date(new Date(NOW.getTime() + 10 * 86_400_000))]);
    // A Konnektor whose product information is not in that form is refused rather than written out.
    const odd = new SoftwareKonnektor({ trustAnchors: [w.pki.ca.certDer], mandanten: mandanten(w.pki, w.senderEnc), productInfo: 'Konnektor 1.0' });
    await assert.rejects(seal(FULL, { konnektor: odd }), { code: 'invalid-input', message: /X-KIM-KONVersion/ });
  });
});

describe('canonical form', () => {
  const LF = Buffer.from('From: praxis.sender@test.kim.telematik\nTo: praxis.empfang@test.kim.telematik\nMessage-ID: <lf-1@test>\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\n\nZeile 1\nZeile 2\rZeile 3\r\n');
  const CRLF = Buffer.from('From: praxis.sender@test.kim.telematik\r\nTo: praxis.empfang@test.kim.telematik\r\nMessage-ID: <lf-1@test>\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n\r\nZeile 1\r\nZeile 2\r\nZeile 3\r\n');

  test('canonicalise: bare LF and bare CR become CRLF before signing; CRLF input is signed as it is', async () => {
    const sealed = await seal(LF, { canonicalise: true });
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.equal(Buffer.from(r.inner!).toString('latin1'), CRLF.toString('latin1'));
    const same = await seal(CRLF, { canonicalise: true });
    const r2 = await openMessage(same.message, { konnektor: w.konnektor, context: CTX_B });
    assert.ok(Buffer.from(r2.inner!).equals(CRLF));
  });

  test('without canonicalise (the SMTP path, whose DATA check already refused bare LF) the bytes are signed unchanged', async () => {
    const sealed = await seal(LF);
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.ok(Buffer.from(r.inner!).equals(LF), 'no line end was touched');
  });

  test('postamt message seal canonicalises: an LF file is signed in CRLF form', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postamt-seal-rules-'));
    try {
      const cli = (args: string[]) => postamtSync(args, { encoding: 'latin1', env: { ...process.env, POSTAMT_DATA_DIR: dir } });
      assert.equal(cli(['pki', 'init', '--dir', join(dir, 'pki')]).code, 0);
      writeFileSync(join(dir, 'lf.eml'), LF.toString('latin1').replace(/praxis\.sender@test\.kim\.telematik/, 'praxis-a@praxis.kim.test').replace('praxis.empfang@test.kim.telematik', 'praxis-b@praxis.kim.test'));
      const s = cli(['message', 'seal', join(dir, 'lf.eml'), '--from-identity', join(dir, 'pki/praxis-a'), '--to-cert', join(dir, 'pki/praxis-b/enc.pem'), '--out', join(dir, 'sealed.eml')]);
      assert.equal(s.code, 0, s.stderr);
      const o = cli(['message', 'open', join(dir, 'sealed.eml'), '--key', join(dir, 'pki/praxis-b/enc.key'), '--trust', join(dir, 'pki/ca.pem'), '--out', join(dir, 'inner.eml')]);
      assert.equal(o.code, 0, o.stdout + o.stderr);
      const inner = readFileSync(join(dir, 'inner.eml'), 'latin1');
      assert.match(inner, /^From: praxis-a@praxis\.kim\.test\r\nTo: praxis-b@praxis\.kim\.test\r\n[\s\S]*\r\n\r\nZeile 1\r\nZeile 2\r\nZeile 3\r\n$/);
      assert.doesNotMatch(inner, /[^\r]\n|\r[^\n]/, 'CRLF only');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

after(async () => {
  await w?.konnektor.close?.();
});

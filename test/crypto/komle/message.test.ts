import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CM_VERSION_PATTERN,
  SoftwareKonnektor,
  decryptAuthEnveloped,
  openMessage,
  presentForPrimarySystem,
  sealMessage,
  type EnvelopeRecipient,
} from '../../../src/crypto/index.js';
import { mime } from '../../../src/wire/index.js';
import * as smtpWire from '../../../src/wire/smtp/index.js';
import { CTX_A, CTX_B, cardKey, createKomleWorld, envelopeOf, psMessage, splitMessage, type KomleWorld } from '../../helpers/komle.js';
import { recipientsFor, type TestIdentity } from '../../helpers/pki.js';

// The KOM-LE message end to end through the software Konnektor: what seal writes, and that open
// gives every recipient (and the sender) the PS's message back byte for byte.

let w: KomleWorld;
// The send time: today at 09:00 UTC, inside the test PKI's validity (made now, valid from a day
// ago) whenever the suite runs; the signer certificate's validity is checked at this time.
const NOW = new Date(`${new Date().toISOString().slice(0, 10)}T09:00:00Z`);

before(async () => {
  w = await createKomleWorld();
});

async function seal(message: Uint8Array, recipients: EnvelopeRecipient[], extra: Partial<Parameters<typeof sealMessage>[1]> = {}) {
  return sealMessage(message, { konnektor: w.konnektor, context: CTX_A, senderEmail: w.pki.signer.email, recipients, now: NOW, ...extra });
}

describe('seal: the outer message', () => {
  // Requirements: gemSMIME_KOMLE: KOM-LE-A_2098-03 (Date, From, To, X-KIM-* copied), KOM-LE-A_2099, KOM-LE-A_2100-02, KOM-LE-A_2101-01, KOM-LE-A_2102, KOM-LE-A_2104, KOM-LE-A_2111-01 (recipient and sender), KOM-LE-A_2116 (the looked-up addresses);
  // gemSpec_CM_KOMLE: KOM-LE-A_2193, A_22417 (Expires), A_21388-01, A_19488-02 (X-KIM-Dienstkennung passed on), KOM-LE-A_2299-01 (outer entity base64), KOM-LE-A_2027
  test('headers as gemSMIME_KOMLE says, in CRLF, body base64 of an AuthEnvelopedData', async () => {
    const ps = psMessage([w.pki.recipient.email]);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient), { dataTimeToLiveDays: 30 });
    const { head, body } = splitMessage(sealed.message);
    const fields = mime.readHeaderBlock(sealed.message).fields;
    const value = (n: string) => mime.findFields(fields, n).map((f) => f.value);
    assert.deepEqual(value('Subject'), ['KOM-LE-Nachricht']);
    assert.deepEqual(value('X-KOM-LE-Version'), ['1.0'], 'no KAS content: 1.0 (KOM-LE-A_2100-02)');
    assert.deepEqual(value('Date'), ['Mon, 23 Nov 2026 10:00:00 +0100']);
    assert.deepEqual(value('From'), ['Praxis Sender <praxis.sender@test.kim.telematik>']);
    assert.deepEqual(value('To'), ['<praxis.empfang@test.kim.telematik>']);
    assert.deepEqual(value('Message-ID'), ['<befund-4711@test.kim.telematik>']);
    assert.deepEqual(value('X-KIM-Dienstkennung'), ['Arztbrief;VHitG-Versand;V1.2'], 'the PS value, no default added');
    assert.deepEqual(value('X-KIM-Sendersystem'), ['PVS Test;1.0']);
    assert.match(value('X-KIM-CMVersion')[0]!, CM_VERSION_PATTERN);
    assert.deepEqual(value('X-KIM-CMVersion'), ['POSTA_1.0.0']);
    assert.match(value('X-KIM-PTVersion')[0]!, /^\d{1,2}\.\d{1,2}\.\d{1,2}(-\d+)?$/);
    assert.equal(value('X-KIM-KONVersion').length, 1);
    assert.deepEqual(value('Expires'), [mime.formatRfc5322Date(new Date(NOW.getTime() + 30 * 86_400_000))], 'send time + 30 days');
    assert.match(value('Expires')[0]!, /^\w{3}, \d{1,2} \w{3} \d{4} 09:00:00 \+0000$/);
    assert.deepEqual(value('Content-Type'), ['application/pkcs7-mime; smime-type=authenticated-enveloped-data; name=smime.p7m']);
    assert.deepEqual(value('Content-Transfer-Encoding'), ['base64']);
    assert.deepEqual(value('Content-Disposition'), ['attachment; filename=smime.p7m']);
    assert.equal(value('Bcc').length + value('Content-Type').length, 1);
    assert.doesNotMatch(head, /Hämoglobin|Befund_f/, 'the original Subject and body stay inside');
    assert.doesNotMatch(sealed.message.toString('latin1'), /(^|[^\r])\n/, 'CRLF only');
    assert.ok(body.toString('latin1').split('\r\n').every((l) => l.length <= 76));
    const der = envelopeOf(sealed.message);
    assert.equal(der.subarray(0, 2).toString('hex').slice(0, 2), '30');
    assert.match(der.toString('latin1'), /\x06\x0b\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x17/, 'id-ct-authEnvelopedData');
    assert.equal(sealed.recipientEmails.length, 2, 'recipient and sender');
  });

  test('bodyStart is where the base64 body starts: from there it needs no SMTP encoding', async () => {
    const ps = psMessage([w.pki.recipient.email]);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    assert.ok(sealed.message.subarray(0, sealed.bodyStart).toString('latin1').endsWith('\r\n\r\n'));
    assert.equal(sealed.bodyStart, splitMessage(sealed.message).head.length);
    const walked = Buffer.concat(smtpWire.encodeDataSection(sealed.message));
    assert.deepEqual(Buffer.concat(smtpWire.encodeDataSection(sealed.message, sealed.bodyStart)), walked);
  });

  test('the folded To field is copied with its folding; the lower-case message-id name is kept', async () => {
    const ps = psMessage([w.pki.recipient.email, 'zweite@test.kim.telematik']);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    const text = sealed.message.toString('latin1');
    assert.ok(text.includes('To: <praxis.empfang@test.kim.telematik>,\r\n  <zweite@test.kim.telematik>\r\n'));
    assert.ok(text.includes('message-id: <befund-4711@test.kim.telematik>\r\n'));
  });

  test('A_19488-02 / KOM-LE-A_2101-01: default X-KIM-Dienstkennung (inside and outside), X-KOM-LE-Version 1.5 on request, and a Message-ID added when the PS set none', async () => {
    const ps = Buffer.from('From: praxis.sender@test.kim.telematik\r\nTo: praxis.empfang@test.kim.telematik\r\nSubject: x\r\n\r\nHallo\r\n');
    const sealed = await seal(ps, recipientsFor(w.pki.recipient), { komLeVersion: '1.5' });
    const fields = mime.readHeaderBlock(sealed.message).fields;
    assert.equal(mime.findField(fields, 'X-KIM-Dienstkennung')?.value, 'KIM-Mail;Default;V1.0');
    assert.equal(mime.findField(fields, 'X-KOM-LE-Version')?.value, '1.5');
    assert.ok(sealed.addedMessageId);
    assert.match(sealed.messageId, /^<[0-9a-f-]{36}@test\.kim\.telematik>$/);
    const opened = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(opened.integrity, '01', JSON.stringify(opened.checks));
    const expected = `Message-ID: ${sealed.messageId}\r\nFrom: praxis.sender@test.kim.telematik\r\nTo: praxis.empfang@test.kim.telematik\r\nSubject: x\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n\r\nHallo\r\n`;
    assert.equal(Buffer.from(opened.inner!).toString('latin1'), expected, 'the Message-ID in front, the Dienstkennung after the PS fields, nothing else changed');
    assert.equal(mime.findField(opened.innerFields!, 'Message-ID')?.value, sealed.messageId);
  });

  // Requirements: gemSpec_CM_KOMLE: A_21388-01 (version patterns)
  test('X-KIM-CMVersion and X-KIM-PTVersion are validated against gematik\'s patterns', async () => {
    const ps = psMessage([w.pki.recipient.email]);
    await assert.rejects(seal(ps, recipientsFor(w.pki.recipient), { cmVersion: 'TOOLONG_1.0.0' }), { code: 'invalid-input' });
    await assert.rejects(seal(ps, recipientsFor(w.pki.recipient), { ptVersion: '1.5' }), { code: 'invalid-input' });
    await assert.rejects(seal(ps, [], {}), { code: 'invalid-input' });
    await assert.rejects(seal(Buffer.from('no header here\r\n\r\n'), recipientsFor(w.pki.recipient)), { code: 'invalid-message' });
  });
});

describe('round trips', () => {
  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2022 (encrypted for the recipient and the sender), KOM-LE-A_2048-01 (every check made); gemSMIME_KOMLE: KOM-LE-A_2111-01
  test('1 recipient: opens with every check passing, inner bytes identical; the sender can open its copy', async () => {
    const ps = psMessage([w.pki.recipient.email]);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.komle, true);
    assert.equal(r.decryption, '00');
    assert.equal(r.integrity, '01', JSON.stringify(r.checks, null, 1));
    assert.equal(r.ok, true);
    assert.equal(r.fehlermeldung, undefined);
    assert.deepEqual(
      r.checks.map((c) => c.name),
      ['komle-version', 'outer-format', 'decryption', 'signed-data-format', 'signature', 'digest', 'validity', 'chain', 'key-usage', 'recipient-emails', 'headers', 'signer-sender'],
    );
    assert.ok(r.checks.every((c) => c.ok));
    assert.ok(Buffer.from(r.inner!).equals(ps));
    const own = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_A });
    assert.equal(own.integrity, '01');
    assert.ok(Buffer.from(own.inner!).equals(ps));
  });

  test('3 recipients: each opens it', async () => {
    const [c, d] = await Promise.all([w.pki.issue({ email: 'c@test.kim.telematik', usage: 'enc' }), w.pki.issue({ email: 'd@test.kim.telematik', usage: 'enc' })]);
    const ps = psMessage([w.pki.recipient.email, c.email, d.email]);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient, c, d));
    assert.equal(sealed.recipientEmails.length, 4);
    for (const id of [c, d]) {
      const k = new SoftwareKonnektor({ trustAnchors: [w.pki.ca.certDer], mandanten: [{ id: 'X', clientSystems: ['cs'], workplaces: ['*'], smcb: async () => ({ encryption: [cardKey(id)] }) }] });
      const r = await openMessage(sealed.message, { konnektor: k, context: { mandantId: 'X', clientSystemId: 'cs', workplaceId: 'w' } });
      assert.equal(r.integrity, '01', `${id.email}: ${JSON.stringify(r.checks)}`);
      assert.ok(Buffer.from(r.inner!).equals(ps));
    }
    assert.equal((await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B })).integrity, '01');
  });

  // Requirements: gemSMIME_KOMLE: KOM-LE-A_2115-02 (one RecipientEmail per RecipientInfo)
  test('50 recipients: 51 RecipientInfos, first and last open', async () => {
    const keys = await w.pki.generateKeys();
    const ids: TestIdentity[] = [];
    for (let i = 0; i < 49; i++) ids.push(await w.pki.issue({ email: `empfaenger${i}@test.kim.telematik`, usage: 'enc', keys }));
    ids.push(w.pki.recipient);
    const ps = psMessage(ids.map((i) => i.email));
    const sealed = await seal(ps, recipientsFor(...ids));
    assert.equal(sealed.recipientEmails.length, 51);
    const der = envelopeOf(sealed.message);
    const envelope = decryptAuthEnveloped(der, { certDer: ids[0]!.certDer, privateKey: ids[0]!.pkcs8 });
    assert.equal(envelope.recipientInfoCount, 51);
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.equal(r.recipientEmails!.signed.length, 51);
    assert.ok(Buffer.from(r.inner!).equals(ps));
  });

  test('8-bit and non-ASCII content, every byte value, survives exactly', async () => {
    const all = Buffer.alloc(256 * 4);
    for (let i = 0; i < all.length; i++) all[i] = i % 256;
    const body = Buffer.concat([Buffer.from('Grüße aus Köln — 日本語 ✓\r\n', 'utf8'), all, Buffer.from('\r\nEnde ohne Zeilenende', 'utf8')]);
    const ps = psMessage([w.pki.recipient.email], body);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks));
    assert.ok(Buffer.from(r.inner!).equals(ps));
    const shown = presentForPrimarySystem(sealed.message, r, { note: false });
    assert.ok(splitMessage(shown).body.equals(body), 'without the note the PS gets the body byte for byte');
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2004-01 (client mails beyond 15 MiB are sealed and opened)
  test('a 20 MB body', async () => {
    const line = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyzÄÖÜäöüß 0123456789abcdefghijklmnopqrstuvwxyz\r\n', 'utf8');
    const body = Buffer.alloc(20 * 1024 * 1024);
    for (let o = 0; o < body.length; o += line.length) line.copy(body, o);
    const ps = psMessage([w.pki.recipient.email], body);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    assert.ok(sealed.message.length > ps.length * 1.3);
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.integrity, '01');
    assert.ok(Buffer.from(r.inner!).equals(ps));
  });
});

describe('present for the primary system', () => {
  test('A_21236 / A_20628 / KOM-LE-A_2179-01 / KOM-LE-A_2050-05: Return-Path and Received in front, then the result fields; the Vermerke appended to a UTF-8 text body', async () => {
    const ps = psMessage([w.pki.recipient.email]);
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    const delivered = Buffer.concat([Buffer.from('Return-Path: <praxis.sender@test.kim.telematik>\r\nReceived: from mta.test by mx.test;\r\n\tMon, 23 Nov 2026 10:00:01 +0000\r\n'), sealed.message]);
    const r = await openMessage(delivered, { konnektor: w.konnektor, context: CTX_B });
    const shown = presentForPrimarySystem(delivered, r);
    const { head, body } = splitMessage(shown);
    assert.ok(head.startsWith('Return-Path: <praxis.sender@test.kim.telematik>\r\nReceived: from mta.test by mx.test;\r\n\tMon, 23 Nov 2026 10:00:01 +0000\r\nX-KIM-DecryptionResult: 00\r\nX-KIM-IntegrityCheckResult: 01\r\n'));
    assert.ok(head.includes('Subject: =?utf-8?Q?Befund_f=C3=BCr_Frau_M=C3=BCller?=\r\n'), 'the original Subject');
    const original = splitMessage(ps).body;
    assert.ok(body.subarray(0, original.length).equals(original));
    assert.equal(body.subarray(original.length).toString('utf8'), '---------------------------------------------\r\nDie Nachricht wurde entschlüsselt.\r\nDie Signatur wurde erfolgreich geprüft.\r\n');
  });

  test('KOM-LE-A_2179-01 / KOM-LE-A_2050-05: in a multipart message the Vermerke go into the first text part; the attachment stays byte for byte', async () => {
    const ps = Buffer.from(
      'From: praxis.sender@test.kim.telematik\r\nTo: praxis.empfang@test.kim.telematik\r\nMessage-ID: <mp@test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XyZ"\r\n\r\n--XyZ\r\nContent-Type: text/plain\r\n\r\nHallo\r\n--XyZ\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--XyZ--\r\n',
    );
    const sealed = await seal(ps, recipientsFor(w.pki.recipient));
    const r = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    const body = splitMessage(presentForPrimarySystem(sealed.message, r)).body.toString('utf8');
    assert.equal(
      body,
      '--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHallo\r\n---------------------------------------------\r\nDie Nachricht wurde entschlüsselt.\r\nDie Signatur wurde erfolgreich geprüft.\r\n' +
        '--XyZ\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--XyZ--\r\n',
    );
  });

  test('A_21390 / KOM-LE-A_2042: a non-KOM-LE message passes through unchanged', async () => {
    const plain = Buffer.from('From: a@b\r\nTo: c@d\r\nSubject: hi\r\n\r\nplain\r\n');
    const r = await openMessage(plain, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(r.komle, false);
    assert.equal(r.decryption, undefined);
    assert.ok(presentForPrimarySystem(plain, r).equals(plain));
  });
});

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as asn1js from 'asn1js';
import {
  KonnektorError,
  SoftwareKonnektor,
  decryptAuthEnveloped,
  encryptAuthEnveloped,
  failureMessage,
  openMessage,
  presentForPrimarySystem,
  sealMessage,
  SICHERHEITSVERLETZUNG,
  type EnvelopeRecipient,
  type OpenResult,
} from '../../../src/crypto/index.js';
import { mime } from '../../../src/wire/index.js';
import { CTX_A, CTX_B, cardKey, createKomleWorld, envelopeOf, innerSequence, psMessage, rewriteDer, splitMessage, withEnvelope, withHeader, type KomleWorld } from '../../helpers/komle.js';
import type { TestIdentity } from '../../helpers/pki.js';

// Every way a received message can be wrong gets its own result code, and none of them throws.

let w: KomleWorld;
let good: Buffer; // a correctly sealed message from A to B
let attacker: TestIdentity;

before(async () => {
  w = await createKomleWorld();
  attacker = await w.pki.issue({ email: 'mithoerer@test.kim.telematik', usage: 'enc' });
  good = (await sealWith(w.konnektor)).message;
});

const recipientsAB = (): EnvelopeRecipient[] => [
  { certDer: w.pki.recipient.certDer, email: w.pki.recipient.email },
  { certDer: w.senderEnc.certDer, email: w.pki.signer.email },
];

function sealWith(konnektor: SoftwareKonnektor, ps = psMessage([w.pki.recipient.email])) {
  return sealMessage(ps, { konnektor, context: CTX_A, senderEmail: w.pki.signer.email, recipients: [{ certDer: w.pki.recipient.certDer, email: w.pki.recipient.email }] });
}

const open = (raw: Uint8Array, konnektor = w.konnektor): Promise<OpenResult> => openMessage(raw, { konnektor, context: CTX_B });

function failed(r: OpenResult): string[] {
  return r.checks.filter((c) => !c.ok).map((c) => c.name);
}

/**
 * What an attacker with B's position on the wire can do to the signed layer: decrypt (here with
 * B's key, to get at the bytes), change the SignedData, and encrypt again for `recipients`.
 */
function reseal(outer: Uint8Array, opts: { signed?: (der: Buffer) => Buffer; recipients?: EnvelopeRecipient[] }): Buffer {
  const env = decryptAuthEnveloped(envelopeOf(outer), cardKey(w.pki.recipient));
  // The SignedData entity is binary (KOM-LE-A_2299-01): its DER follows the header as it is.
  const { head, body: signed } = splitMessage(env.content);
  assert.match(head, /Content-Transfer-Encoding: binary\r\n/);
  const changed = opts.signed ? opts.signed(signed) : signed;
  const entity = Buffer.concat([Buffer.from(head, 'latin1'), changed]);
  return withEnvelope(outer, encryptAuthEnveloped(entity, opts.recipients ?? recipientsAB()));
}

describe('decryption failures: X-KIM-DecryptionResult and X-KIM-Fehlermeldung', () => {
  test('Tab_Fehlertext_Entschl 01 (KOM-LE-A_2062, KOM-LE-A_2047-02, A_20650-05): a message for someone else (our key is not among the recipients): 01 / 4009', async () => {
    const k = new SoftwareKonnektor({ trustAnchors: [w.pki.ca.certDer], mandanten: [{ id: 'B', clientSystems: ['KOM_LE'], workplaces: ['*'], smcb: async () => ({ encryption: [cardKey(attacker)] }) }] });
    const r = await open(good, k);
    assert.deepEqual([r.decryption, r.integrity, r.fehlermeldung, r.ok], ['01', undefined, '4009', false]);
    assert.deepEqual(failed(r), ['decryption']);
    assert.match(r.checks.at(-1)!.detail, /no-recipient/);
  });

  test('KOM-LE-A_2047-02 vendor code X01: a flipped byte in the ciphertext: X01 / 4014 (authentication failed)', async () => {
    const der = envelopeOf(good);
    const tampered = Buffer.from(der);
    tampered[Math.floor(der.length / 2)]! ^= 0x01;
    const r = await open(withEnvelope(good, tampered));
    assert.deepEqual([r.decryption, r.fehlermeldung], ['X01', '4014']);
    assert.match(r.checks.at(-1)!.detail, /tag-mismatch/);
  });

  test('a flipped byte in the GCM tag: 02 / 4014', async () => {
    const der = rewriteDer(envelopeOf(good), (root) => {
      const fields = innerSequence(root).valueBlock.value;
      const mac = fields.find((f, i) => i > 2 && f instanceof asn1js.OctetString) as asn1js.OctetString;
      const bytes = new Uint8Array(mac.valueBlock.valueHexView);
      bytes[0]! ^= 0x80;
      mac.valueBlock.valueHexView = bytes;
    });
    const r = await open(withEnvelope(good, der));
    assert.deepEqual([r.decryption, r.fehlermeldung], ['X01', '4014']);
  });

  test('a damaged encryptedKey: 01 / 4009 (the key cannot be unwrapped)', async () => {
    const der = rewriteDer(envelopeOf(good), (root) => {
      for (const ri of (innerSequence(root).valueBlock.value[1] as asn1js.Set).valueBlock.value as asn1js.Sequence[]) {
        const ek = ri.valueBlock.value[3] as asn1js.OctetString;
        const bytes = new Uint8Array(ek.valueBlock.valueHexView);
        bytes[10]! ^= 0xff;
        ek.valueBlock.valueHexView = bytes;
      }
    });
    const r = await open(withEnvelope(good, der));
    assert.deepEqual([r.decryption, r.fehlermeldung], ['01', '4009']);
  });

  test('A_21391-02: an unsupported X-KOM-LE-Version: not decrypted, 4008', async () => {
    const r = await open(withHeader(good, 'X-KOM-LE-Version', '2.0'));
    assert.deepEqual([r.komle, r.versionUnsupported, r.decryption, r.fehlermeldung], [true, true, undefined, '4008']);
    assert.deepEqual(failed(r), ['komle-version']);
  });

  for (const [name, mutate] of [
    ['body that is not base64', (m: Buffer) => Buffer.concat([splitMessage(m).head === '' ? m : Buffer.from(splitMessage(m).head, 'latin1'), Buffer.from('this is *not* base64!\r\n')])],
    ['truncated CMS', (m: Buffer) => withEnvelope(m, envelopeOf(m).subarray(0, 500))],
    ['CMS of the wrong type (a SignedData outside)', (m: Buffer) => withEnvelope(m, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]))],
    ['Content-Type text/plain', (m: Buffer) => withHeader(m, 'Content-Type', 'text/plain')],
    ['empty body', (m: Buffer) => Buffer.from(splitMessage(m).head, 'latin1')],
  ] as const) {
    test(`Tab_Fehlertext_Entschl 02: ${name}: 02 / 4010`, async () => {
      const r = await open(mutate(good));
      assert.deepEqual([r.komle, r.decryption, r.fehlermeldung], [true, '02', '4010']);
    });
  }

  test('Tab_Fehlertext_Entschl 03: Konnektor unavailable (the card terminal does not answer): 03 / 4011', async () => {
    const k = new SoftwareKonnektor({
      trustAnchors: [],
      mandanten: [{ id: 'B', clientSystems: ['KOM_LE'], workplaces: ['*'], smcb: async () => Promise.reject(new KonnektorError('unavailable', 'card terminal does not answer')) }],
    });
    const r = await open(good, k);
    assert.deepEqual([r.decryption, r.fehlermeldung], ['03', '4011']);
  });

  test('KOM-LE-A_2046 / KOM-LE-A_2047-02 / A_20650-05: the failure message: multipart/mixed with the table text, the codes and the original attached', async () => {
    const k = new SoftwareKonnektor({ trustAnchors: [], mandanten: [{ id: 'B', clientSystems: ['KOM_LE'], workplaces: ['*'], smcb: async () => ({ encryption: [cardKey(attacker)] }) }] });
    const delivered = Buffer.concat([Buffer.from('Return-Path: <a@b>\r\n'), good]);
    const r = await open(delivered, k);
    const msg = presentForPrimarySystem(delivered, r);
    assert.equal(mime.findField(mime.readHeaderBlock(failureMessage(delivered, r)).fields, 'X-KIM-Fehlermeldung')?.value, '4009');
    const block = mime.readHeaderBlock(msg);
    const v = (n: string) => mime.findField(block.fields, n)?.value;
    assert.equal(block.fields[0]!.key, 'return-path');
    assert.equal(v('X-KIM-DecryptionResult'), '01');
    assert.equal(v('X-KIM-Fehlermeldung'), '4009');
    assert.equal(v('From'), 'Praxis Sender <praxis.sender@test.kim.telematik>');
    assert.equal(v('Message-ID'), '<befund-4711@test.kim.telematik>');
    assert.equal(v('Subject'), '=?utf-8?Q?Die_Nachricht_konnte_nicht_entschl=C3=BCsselt_werden?=');
    const ct = mime.parseContentType(v('Content-Type'));
    assert.equal(ct.mediaType, 'multipart/mixed');
    const boundary = ct.params['boundary']!;
    const body = msg.subarray(block.bodyStart);
    const parts = body.toString('latin1').split(`--${boundary}`);
    assert.equal(parts.length, 4, 'preamble, text, original, epilogue');
    const text = decodeQp(parts[1]!.slice(parts[1]!.indexOf('\r\n\r\n') + 4));
    assert.match(text, /^\[ID 01\] Der für die Entschlüsselung der Nachricht benötigte Schlüssel wurde nicht gefunden\./);
    assert.match(text, /an Ihre eigene E-Mail-Adresse \(praxis\.empfang@test\.kim\.telematik\) weiter/);
    assert.match(text, /X-KIM-Fehlermeldung: 4009 \(Die Nachricht konnte auf Grund eines nicht verfügbaren Schlüssels/);
    assert.match(parts[1]!, /Content-Transfer-Encoding: quoted-printable/);
    assert.ok(parts[2]!.startsWith('\r\nContent-Type: message/rfc822\r\n'));
    assert.ok(body.includes(delivered), 'the original, byte for byte');
    assert.equal(parts[3], '--\r\n');
  });
});

// Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2048-01 (signature, chain, outer headers, recipient-emails), A_23165 (X-KIM-IntegrityCheckResult)
describe('integrity failures: X-KIM-IntegrityCheckResult', () => {
  test('Tab_Verm_Sig_Prüf 02 (KOM-LE-A_2048-01): a flipped signature byte: 02', async () => {
    const r = await open(reseal(good, { signed: (d) => flip(d, d.length - 3) }));
    assert.deepEqual([r.decryption, r.integrity, r.ok], ['00', '02', false]);
    assert.deepEqual(failed(r), ['signature']);
    assert.ok(r.inner, 'the inner message is still handed out, flagged');
  });

  test('Tab_Verm_Sig_Prüf 02: the signed content altered (signature over the attributes still valid): 02', async () => {
    const r = await open(reseal(good, { signed: (d) => flip(d, d.indexOf(Buffer.from('Hämoglobin')) + 1) }));
    assert.equal(r.integrity, '02');
    assert.deepEqual(failed(r), ['digest']);
  });

  test('Tab_Verm_Sig_Prüf 05: an expired signer certificate: 05', async () => {
    const sealed = await sealWith(w.konnektorSigningWith(w.pki.expiredSigner), psMessage([w.pki.recipient.email]));
    const r = await open(sealed.message);
    assert.equal(r.integrity, '05');
    assert.ok(failed(r).includes('validity'));
  });

  test('Tab_Verm_Sig_Prüf 05 (KOM-LE-A_2048-01 certification path): a signer from a foreign CA: 05', async () => {
    const sealed = await sealWith(w.konnektorSigningWith(w.pki.foreignSigner));
    const r = await open(sealed.message);
    assert.equal(r.integrity, '05');
    assert.ok(failed(r).includes('chain'));
  });

  test('A_23165 vendor code X02: signer certificate for another address than From: X02', async () => {
    const other = await w.pki.issue({ email: 'andere.praxis@test.kim.telematik', usage: 'sign' });
    const sealed = await sealWith(w.konnektorSigningWith(other));
    const r = await open(sealed.message);
    assert.equal(r.integrity, 'X02');
    assert.deepEqual(failed(r), ['signer-sender']);
  });

  test('Tab_Verm_Sig_Prüf 03 and 04: no SignedData inside (03), a broken one (04)', async () => {
    const entity = Buffer.from('Content-Type: text/plain\r\n\r\nhello\r\n');
    const r = await open(withEnvelope(good, encryptAuthEnveloped(entity, recipientsAB())));
    assert.deepEqual([r.decryption, r.integrity], ['00', '03']);
    const r2 = await open(reseal(good, { signed: (d) => d.subarray(0, d.length - 40) }));
    assert.equal(r2.integrity, '04');
  });

  test('Tab_Verm_Sig_Prüf 09 (KOM-LE-A_2048-01, KOM-LE-A_2127): an extra recipient added to the envelope (unauthenticated copy grows): 09 / 4015', async () => {
    const r = await open(reseal(good, { recipients: [...recipientsAB(), { certDer: attacker.certDer, email: attacker.email }] }));
    assert.deepEqual([r.integrity, r.fehlermeldung], ['09', '4015']);
    assert.deepEqual(failed(r), ['recipient-emails']);
    assert.match(r.checks.find((c) => c.name === 'recipient-emails')!.detail, /only unauthenticated: mithoerer@/);
  });

  test('Tab_Verm_Sig_Prüf 09: an address altered in the unauthenticated copy: 09', async () => {
    const recipients = recipientsAB();
    recipients[0] = { ...recipients[0]!, email: 'praxis.falsch@test.kim.telematik' };
    const r = await open(reseal(good, { recipients }));
    assert.equal(r.integrity, '09');
  });

  test('Tab_Verm_Sig_Prüf 09: certificates swapped between the addresses of the unauthenticated copy: 09', async () => {
    const [a, b] = recipientsAB();
    const r = await open(reseal(good, { recipients: [{ certDer: a!.certDer, email: b!.email }, { certDer: b!.certDer, email: a!.email }] }));
    assert.equal(r.integrity, '09');
  });

  for (const [name, value] of [
    ['From', 'Mallory <praxis.sender@test.kim.telematik.evil>'],
    ['To', '<praxis.andere@test.kim.telematik>'],
    ['Cc', '<cc@test.kim.telematik>'],
    ['Sender', '<sekretariat@test.kim.telematik>'],
    ['Reply-To', '<antwort@test.kim.telematik>'],
  ] as const) {
    test(`KOM-LE-A_2048-01 / Tab_Verm_Sig_Prüf 08: outer ${name} differs from the inner one: 08 / 4014`, async () => {
      const r = await open(withHeader(good, name, value));
      assert.deepEqual([r.decryption, r.integrity, r.fehlermeldung], ['00', '08', '4014']);
      assert.deepEqual(failed(r), ['headers']);
      assert.match(r.checks.find((c) => c.name === 'headers')!.detail, new RegExp(name));
    });
  }

  test('KOM-LE-A_2048-01: outer From removed: 08', async () => {
    assert.equal((await open(withHeader(good, 'From', undefined))).integrity, '08');
  });

  test('KOM-LE-A_2048-01: refolding and header-name case do not count as a difference; Date, Message-ID and X-KIM-* are not compared', async () => {
    const refolded = withHeader(withHeader(good, 'From', 'Praxis   Sender\r\n <praxis.sender@test.kim.telematik>'), 'To', undefined);
    const r = await open(Buffer.from(refolded.toString('latin1').replace('Subject:', 'tO: <praxis.empfang@test.kim.telematik>\r\nSubject:'), 'latin1'));
    assert.equal(r.integrity, '01', JSON.stringify(r.checks.filter((c) => !c.ok)));
    for (const [name, value] of [['Date', 'Sat, 20 Jun 2020 12:58:26 +0200 (CEST)'], ['Message-ID', '<other@test>'], ['X-KIM-Dienstkennung', 'eAU;Lieferung;V1.2']] as const) {
      assert.equal((await open(withHeader(good, name, value))).integrity, '01', name);
    }
  });

  test('A_23165: several results at once each get their own X-KIM-IntegrityCheckResult field', async () => {
    const tampered = withHeader(reseal(good, { recipients: [...recipientsAB(), { certDer: attacker.certDer, email: attacker.email }] }), 'To', '<praxis.andere@test.kim.telematik>');
    const r = await open(tampered);
    assert.deepEqual(r.integrityResults, ['08', '09']);
    assert.deepEqual(r.fehlermeldungen, ['4014', '4015']);
    const fields = mime.readHeaderBlock(presentForPrimarySystem(tampered, r)).fields;
    assert.deepEqual(mime.findFields(fields, 'X-KIM-IntegrityCheckResult').map((f) => f.value), ['08', '09']);
    assert.deepEqual(mime.findFields(fields, 'X-KIM-Fehlermeldung').map((f) => f.value), ['4014', '4015']);
  });

  test('result fields forged by the sender inside are removed; ours are in front', async () => {
    const ps = Buffer.concat([Buffer.from('X-KIM-IntegrityCheckResult: 01\r\nX-KIM-DecryptionResult: 00\r\n'), psMessage([w.pki.recipient.email])]);
    const sealed = await sealWith(w.konnektorSigningWith(w.pki.foreignSigner), ps);
    const r = await open(sealed.message);
    assert.equal(r.integrity, '05');
    for (const mode of ['replace', 'embed', 'original'] as const) {
      const fields = mime.readHeaderBlock(presentForPrimarySystem(sealed.message, r, { integrityFailure: mode })).fields;
      assert.deepEqual(mime.findFields(fields, 'X-KIM-IntegrityCheckResult').map((f) => f.value), [...r.integrityResults], mode);
      assert.equal(mime.findFields(fields, 'X-KIM-IntegrityCheckResult')[0]?.value, '05', mode);
      assert.deepEqual(mime.findFields(fields, 'X-KIM-DecryptionResult').map((f) => f.value), ['00'], mode);
    }
  });
});

describe('A_23165: what the primary system gets after a failed integrity check', () => {
  const cases: ReadonlyArray<readonly [string, () => Promise<Buffer>, readonly string[]]> = [
    ['flipped signed content', async () => reseal(good, { signed: (d) => flip(d, d.indexOf(Buffer.from('Hämoglobin')) + 1) }), ['02']],
    ['recipient-emails that do not match', async () => reseal(good, { recipients: [...recipientsAB(), { certDer: attacker.certDer, email: attacker.email }] }), ['09']],
    ['outer To not the inner one', async () => withHeader(good, 'To', '<praxis.andere@test.kim.telematik>'), ['08']],
    ['a signer from a foreign CA', async () => (await sealWith(w.konnektorSigningWith(w.pki.foreignSigner))).message, ['05', 'X02']],
  ];
  for (const [name, make, codes] of cases) {
    test(`A_23165 / Tab_Verm_Sig_Prüf ${codes.join('+')}: ${name} — the body is replaced by the fixed text, the codes in X-KIM-IntegrityCheckResult`, async () => {
      const raw = await make();
      const r = await open(raw);
      assert.deepEqual(r.integrityResults, codes);
      const shown = presentForPrimarySystem(raw, r, { recipientAddress: w.pki.recipient.email });
      const block = mime.readHeaderBlock(shown);
      assert.deepEqual(mime.findFields(block.fields, 'X-KIM-IntegrityCheckResult').map((f) => f.value), codes);
      assert.equal(mime.findField(block.fields, 'X-KIM-DecryptionResult')?.value, '00');
      assert.equal(mime.findField(block.fields, 'Content-Type')?.value, 'text/plain; charset=utf-8');
      assert.equal(mime.findFields(block.fields, 'Content-Type').length, 1, "the inner message's own Content-Type is gone");
      assert.equal(mime.findField(block.fields, 'Subject')?.value, '=?utf-8?Q?Befund_f=C3=BCr_Frau_M=C3=BCller?=', 'the inner header is kept');
      const text = decodeQp(shown.subarray(block.bodyStart).toString('latin1'));
      assert.ok(text.startsWith(SICHERHEITSVERLETZUNG + '\r\n'), text);
      for (const code of codes) assert.match(text, new RegExp(`\\[ID ${code}\\]`));
      assert.doesNotMatch(text, /Hämoglobin/, 'nothing of the (untrustworthy) content');
    });
  }

  test('A_23165 configured: embed hands the decrypted original over as message/rfc822 (gematik FAQ), original hands it over as it is', async () => {
    const raw = withHeader(good, 'To', '<praxis.andere@test.kim.telematik>');
    const r = await open(raw);
    const embedded = presentForPrimarySystem(raw, r, { integrityFailure: 'embed' });
    const block = mime.readHeaderBlock(embedded);
    assert.equal(mime.parseContentType(mime.findField(block.fields, 'Content-Type')?.value).mediaType, 'multipart/mixed');
    assert.equal(mime.findField(block.fields, 'X-KIM-IntegrityCheckResult')?.value, '08');
    assert.ok(embedded.includes(Buffer.from(r.inner!)), 'the decrypted original, byte for byte');
    assert.match(decodeQp(embedded.toString('latin1')), /Die entschlüsselte Nachricht wurde in diese Fehlernachricht eingebettet/);
    const original = presentForPrimarySystem(raw, r, { integrityFailure: 'original' });
    const text = original.toString('utf8');
    assert.match(text, /^X-KIM-IntegrityCheckResult: 08\r$/m);
    assert.match(text, /Hämoglobin 14,2 g\/dl\.\r\n-{45}\r\nDie Nachricht wurde entschlüsselt\.\r\n\[Integritätsprüfung\] \[ID 08\]/);
  });
});

describe('hostile input never throws', () => {
  test('random mutations of a good message', async () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const der = envelopeOf(good);
    for (let i = 0; i < 150; i++) {
      const m = Buffer.from(der);
      for (let k = 0; k <= rand(3); k++) m[rand(m.length)] = rand(256);
      const cut = rand(5) === 0 ? m.subarray(0, rand(m.length)) : m;
      const r = await open(withEnvelope(good, cut));
      assert.equal(r.komle, true);
      // A hit in unauthAttrs or in another recipient's RecipientInfo still decrypts: then the checks must say so.
      if (r.decryption === '00') assert.notEqual(r.integrity, undefined, `iteration ${i}`);
      else assert.ok(r.decryption === '01' || r.decryption === '02' || r.decryption === 'X01', `iteration ${i}: ${r.decryption}`);
    }
    for (const raw of [Buffer.alloc(0), Buffer.from('\r\n\r\n'), Buffer.from(' folded first\r\n'), Buffer.from('X-KOM-LE-Version: 1.5\r\n'), Buffer.alloc(3000, 0xff)]) {
      const r = await open(raw);
      assert.ok(r.komle === false || r.decryption === '02');
      presentForPrimarySystem(raw, r);
    }
  });
});

/** RFC 2045 quoted-printable, enough for the texts checked here. */
function decodeQp(text: string): string {
  const bytes = Buffer.from(text.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  return bytes.toString('utf8');
}

function flip(buf: Buffer, at: number): Buffer {
  const copy = Buffer.from(buf);
  copy[at]! ^= 0x01;
  return copy;
}


import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  SoftwareKonnektor,
  compareRecipientEmails,
  encryptAuthEnveloped,
  envelopeRecipientEmails,
  openMessage,
  parseRecipientCertificate,
  presentForPrimarySystem,
  ridMatchesCertificate,
  verifySignedData,
  type CardKey,
  type KonnektorContext,
} from '../../../src/crypto/index.js';
import { mime } from '../../../src/wire/index.js';
import { envelopeOf, withEnvelope } from '../../helpers/komle.js';
import { repositoryPath } from '../../helpers/env.js';

// gematik's reference KOM-LE message (api-kim, samples/SMIME-Profil.zip; Apache-2.0; see
// test/fixtures/gematik-smime-profil/README.md): made by gematik's tools and a real Konnektor,
// so it shows what other KIM products write — recipient-emails with each RecipientEmail one
// value of the attribute, a CAdES SignedData with RSASSA-PSS and extra signed attributes.

const file = (name: string): Buffer => readFileSync(repositoryPath('test', 'fixtures', 'gematik-smime-profil', name));
const SENDER = 'mustersender@komle.de';
const RECIPIENT = 'musterempfaenger@komle.de';
const CTX: KonnektorContext = { mandantId: 'gematik', clientSystemId: 'KOM_LE', workplaceId: '1' };

function key(name: string): CardKey {
  return { certDer: new X509Certificate(file(`${name}.pem`)).raw, privateKey: createPrivateKey(file(`${name}.key`)) };
}
const recipientKey = key('recipient-hci-enc-3');
const senderKey = key('sender-hci-enc-2');
const sample = file('inputEmail.txt.05.encryptedwrap');
const signedDer = file('inputEmail.txt.02.signedcms');
const signerCert = (): Uint8Array => verifySignedData(signedDer, { trustAnchors: [] }).signerCert;

function konnektorWith(card: CardKey, trustAnchors: Uint8Array[] = []): SoftwareKonnektor {
  return new SoftwareKonnektor({ trustAnchors, mandanten: [{ id: CTX.mandantId, clientSystems: ['KOM_LE'], workplaces: ['*'], smcb: async () => ({ encryption: [card] }) }] });
}

describe("gematik's sample KOM-LE message", () => {
  test('KOM-LE-A_2114-01 / KOM-LE-A_2115-02 / KOM-LE-A_2117: recipient-emails in gematik\'s form is read — one entry per RecipientInfo, each naming its certificate by issuer and serial', () => {
    const entries = envelopeRecipientEmails(envelopeOf(sample));
    assert.deepEqual(entries.map((e) => e.email), [SENDER, RECIPIENT]);
    assert.ok(entries.every((e) => e.rid.type === 'issuerAndSerialNumber'));
    assert.ok(ridMatchesCertificate(entries[0]!.rid, parseRecipientCertificate(senderKey.certDer)));
    assert.ok(ridMatchesCertificate(entries[1]!.rid, parseRecipientCertificate(recipientKey.certDer)));
  });

  test('KOM-LE-A_2042 / KOM-LE-A_2111-01: the recipient and the sender (its own RecipientInfo) both decrypt it', async () => {
    for (const [card, address] of [
      [recipientKey, RECIPIENT],
      [senderKey, SENDER],
    ] as const) {
      const r = await openMessage(sample, { konnektor: konnektorWith(card), context: CTX, recipientAddress: address });
      assert.equal(r.decryption, '00', JSON.stringify(r.checks));
      assert.deepEqual(r.recipientEmails, undefined, 'the inner layer is not reached (see the next test)');
      // gematik's tool turned every CR byte of the binary SignedData entity into CRLF before
      // encrypting (42 bytes more than the DER says): the signature cannot be read — 04.
      assert.deepEqual(r.integrityResults, ['04']);
      assert.match(r.checks.find((c) => c.name === 'signed-data-format')!.detail, /trailing bytes/);
    }
  });

  test('KOM-LE-A_2043 / KOM-LE-A_2045: only the keys recipient-emails names for the fetching user decrypt', async () => {
    const stranger = await openMessage(sample, { konnektor: konnektorWith(recipientKey), context: CTX, recipientAddress: 'jemand@komle.de' });
    assert.deepEqual([stranger.decryption, stranger.fehlermeldung], ['01', '4009']);
    assert.match(stranger.checks.find((c) => c.name === 'recipient-key')!.detail, /names no certificate for jemand@komle\.de/);
    // B's card would decrypt, but the sender's address names A's certificate only.
    const wrongKey = await openMessage(sample, { konnektor: konnektorWith(recipientKey), context: CTX, recipientAddress: SENDER });
    assert.deepEqual([wrongKey.decryption, wrongKey.fehlermeldung], ['01', '4009']);
    assert.ok(!wrongKey.checks.some((c) => c.name === 'decryption' && c.ok));
    // Addresses compare without case (gematik's FAQ).
    const upper = await openMessage(sample, { konnektor: konnektorWith(recipientKey), context: CTX, recipientAddress: RECIPIENT.toUpperCase() });
    assert.equal(upper.decryption, '00');
  });

  test('KOM-LE-A_2127: the Konnektor-made SignedData (RSASSA-PSS, CAdES attributes) verifies, and its signed recipient-emails equals the envelope\'s', () => {
    const v = verifySignedData(signedDer, { trustAnchors: [signerCert()], at: new Date('2020-12-14T08:00:00Z') });
    assert.ok(v.checks.signature.ok && v.checks.digest.ok, JSON.stringify(v.checks));
    assert.match(v.checks.signature.detail, /RSASSA-PSS SHA-256/);
    assert.deepEqual(v.recipientEmails.map((e) => e.email), [SENDER, RECIPIENT]);
    assert.ok(compareRecipientEmails(v.recipientEmails, envelopeRecipientEmails(envelopeOf(sample))).equal);
    assert.ok(Buffer.from(v.content).equals(file('inputEmail.txt.01.rfc822wrap')), 'the signed content is the message/rfc822 entity');
  });

  test('KOM-LE-A_2048-01 / KOM-LE-A_2050-05: gematik\'s signed layer, encrypted again as it should have been, opens with 01 — the outer Date differs in form and is not compared', async () => {
    const entity = Buffer.concat([
      Buffer.from('MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: binary\r\nContent-Disposition: attachment; filename=smime.p7m\r\n\r\n'),
      signedDer,
    ]);
    const recipients = envelopeRecipientEmails(envelopeOf(sample)).map((e, i) => ({ email: e.email, certDer: i === 0 ? senderKey.certDer : recipientKey.certDer }));
    const repaired = withEnvelope(sample, encryptAuthEnveloped(entity, recipients));
    const outerDate = mime.findField(mime.readHeaderBlock(repaired).fields, 'Date')?.value;
    assert.equal(outerDate, 'Sat, 20 Jun 2020 12:58:26 +0200 (CEST)');
    const r = await openMessage(repaired, { konnektor: konnektorWith(recipientKey, [signerCert()]), context: CTX, recipientAddress: RECIPIENT });
    assert.deepEqual(r.integrityResults, ['01'], JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.ok(r.ok);
    assert.equal(mime.findField(r.innerFields!, 'Date')?.value, 'Wed, 20 Jun 2020 12:58:26 +0200');
    const presented = presentForPrimarySystem(repaired, r);
    const fields = mime.readHeaderBlock(presented).fields;
    assert.deepEqual(
      ['X-KIM-DecryptionResult', 'X-KIM-IntegrityCheckResult'].map((n) => mime.findField(fields, n)?.value),
      ['00', '01'],
    );
    assert.match(presented.toString('latin1'), /This is a message just to say hello\.\r\n[\s\S]*Die Nachricht wurde entschl/);
    // Without gematik's CA the certification path cannot be validated: 05.
    const untrusted = await openMessage(repaired, { konnektor: konnektorWith(recipientKey), context: CTX, recipientAddress: RECIPIENT });
    assert.deepEqual(untrusted.integrityResults, ['05']);
  });
});

import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openMessage, sealMessage, type OpenResult, type SoftwareKonnektor } from '../../../src/crypto/index.js';
import { CTX_A, CTX_B, createKomleWorld, psMessage, type KomleWorld } from '../../helpers/komle.js';

// KOM-LE-A_2048-01's signer-sender check: the inner From must name an address of the signer
// certificate. Every mailbox of the From field counts — lists, group members, quoted local
// parts — so a legitimate sender is never reported as an integrity failure (02/X02).

let w: KomleWorld;

before(async () => {
  w = await createKomleWorld();
});

/** A message from practice A with `from` as its From field, sealed by `konnektor`, opened by B. */
async function roundTrip(from: string, konnektor: SoftwareKonnektor = w.konnektor): Promise<OpenResult> {
  const ps = Buffer.from(psMessage([w.pki.recipient.email]).toString('latin1').replace(/^From: .*\r\n/m, `From: ${from}\r\n`), 'latin1');
  const sealed = await sealMessage(ps, { konnektor, context: CTX_A, senderEmail: w.pki.signer.email, recipients: [{ certDer: w.pki.recipient.certDer, email: w.pki.recipient.email }] });
  return openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
}

function signerSender(r: OpenResult): { ok: boolean; detail: string } {
  return r.checks.find((c) => c.name === 'signer-sender')!;
}

for (const from of [
  'Sekretariat <sekretariat@test.kim.telematik>, praxis.sender@test.kim.telematik',
  'Praxis.Sender@test.kim.telematik, Sekretariat <sekretariat@test.kim.telematik>',
  'Praxis A: praxis.sender@test.kim.telematik, sekretariat@test.kim.telematik;',
]) {
  test(`KOM-LE-A_2048-01: From ${JSON.stringify(from)} names the signer among others: 01`, async () => {
    const r = await roundTrip(from);
    assert.deepEqual([r.decryption, r.integrity], ['00', '01'], JSON.stringify(r.checks.filter((c) => !c.ok)));
    assert.match(signerSender(r).detail, /^sender praxis\.sender@test\.kim\.telematik is named in the signer certificate$/);
  });
}

test('KOM-LE-A_2048-01: a signer certificate for "quoted local"@…, From the same: 01', async () => {
  const quoted = '"praxis sender"@test.kim.telematik';
  const signer = await w.pki.issue({ email: quoted, usage: 'sign' });
  const r = await roundTrip(`Praxis Sender <${quoted}>`, w.konnektorSigningWith(signer));
  assert.deepEqual([r.decryption, r.integrity], ['00', '01'], JSON.stringify(r.checks.filter((c) => !c.ok)));
  assert.equal(signerSender(r).detail, `sender ${quoted} is named in the signer certificate`);
  // The quoting is part of the address: the bare local part is another one.
  const bare = await roundTrip('<praxis.sender@test.kim.telematik>', w.konnektorSigningWith(signer));
  assert.equal(bare.integrity, 'X02');
});

test('A_23165 X02 still: a list or group none of whose members the certificate names, or a From without an address', async () => {
  for (const from of ['a@test.kim.telematik, B <b@test.kim.telematik>', 'Team: a@test.kim.telematik, b@test.kim.telematik;']) {
    const r = await roundTrip(from);
    assert.equal(r.integrity, 'X02', from);
    assert.match(signerSender(r).detail, /^sender a@test\.kim\.telematik, b@test\.kim\.telematik is not among the signer certificate's addresses \(praxis\.sender@test\.kim\.telematik\)$/);
  }
  for (const from of ['undisclosed-recipients:;', 'Praxis Sender']) {
    const r = await roundTrip(from);
    assert.equal(r.integrity, 'X02', from);
    assert.equal(signerSender(r).detail, 'inner message has no From address');
  }
});

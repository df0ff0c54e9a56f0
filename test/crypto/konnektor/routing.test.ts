import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoutingKonnektor, SoftwareKonnektor, cardLoaderFromFiles, createTestPki, konnektorFor, openMessage, sealMessage, type KonnektorContext } from '../../../src/crypto/index.js';

// Several Konnektors behind one client module (konnektor.soap.perMandant): calls go to the
// context's Konnektor, and its own facts decide — A_17464/A_17472: the practice whose Konnektor
// cannot do ECC seals without any ECC certificate, the other with both kinds.

let dir: string;
const A: KonnektorContext = { mandantId: 'm-a', clientSystemId: 'PVS', workplaceId: '1' };
const R: KonnektorContext = { mandantId: 'm-r', clientSystemId: 'PVS', workplaceId: '1' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postamt-routing-'));
  await createTestPki({
    dir,
    practices: [
      { id: 'praxis-a', name: 'A', telematikId: '1-1', email: 'a@praxis.kim.test', keys: 'both' },
      { id: 'praxis-r', name: 'R', telematikId: '1-2', email: 'r@praxis.kim.test', keys: 'both' },
    ],
    tlsNames: ['localhost'],
  });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('A_17464 A_17472: each context is served by its own Konnektor, with that Konnektor\'s ECC capability and product line', async () => {
  const card = (id: string, m: string) => ({ id: m, clientSystems: ['PVS'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: id }, dir) });
  const modern = new SoftwareKonnektor({ trustAnchors: [], mandanten: [card('praxis-a', 'm-a'), card('praxis-r', 'm-r')] });
  const old = new SoftwareKonnektor({ trustAnchors: [], mandanten: [card('praxis-r', 'm-r')], serviceVersions: { signatureService: '7.4.0', encryptionService: '6.0.0' }, productInfo: '<Alter Konnektor><Konnektor><4.0.0><1.0.0><4.0.0>' });
  const k = new RoutingKonnektor(modern, new Map([['m-r', old]]));
  assert.equal(konnektorFor(k, A), modern);
  assert.equal(konnektorFor(k, R), old);
  const msg = (from: string, to: string) => Buffer.from(`From: ${from}\r\nTo: ${to}\r\nSubject: x\r\n\r\nHallo\r\n`);
  const fromA = await sealMessage(msg('a@praxis.kim.test', 'r@praxis.kim.test'), { konnektor: k, context: A, senderEmail: 'a@praxis.kim.test', recipients: [{ certDer: await k.readCardCertificate(R, 'C.ENC', 'RSA'), email: 'r@praxis.kim.test' }] });
  assert.equal(fromA.recipientEmails.filter((e) => e.email === 'a@praxis.kim.test').length, 2, "A's Konnektor can do ECC: both of A's certificates");
  const fromR = await sealMessage(msg('r@praxis.kim.test', 'a@praxis.kim.test'), { konnektor: k, context: R, senderEmail: 'r@praxis.kim.test', recipients: [{ certDer: await k.readCardCertificate(A, 'C.ENC', 'RSA'), email: 'a@praxis.kim.test' }] });
  assert.equal(fromR.recipientEmails.filter((e) => e.email === 'r@praxis.kim.test').length, 1, "R's Konnektor cannot: R's RSA certificate only");
  assert.match(fromR.message.toString('latin1'), /^X-KIM-KONVersion: <Alter Konnektor>/m, "X-KIM-KONVersion names R's Konnektor (A_21388-01)");
  assert.match(fromA.message.toString('latin1'), /^X-KIM-KONVersion: <Postamt Software-Konnektor/m);
  await assert.rejects(k.readCardCertificate(R, 'C.ENC', 'ECC'), /do not offer ECC/);
  assert.equal((await openMessage(fromA.message, { konnektor: k, context: R })).decryption, '00');
  assert.equal((await openMessage(fromR.message, { konnektor: k, context: A })).decryption, '00');
  await k.close();
});

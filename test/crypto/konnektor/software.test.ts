import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../../src/config/index.js';
import {
  CmsError,
  KonnektorError,
  SoftwareKonnektor,
  createKonnektor,
  createTestPki,
  eccCapable,
  openMessage,
  readPkcs12,
  recipientIdOf,
  sealMessage,
  type Konnektor,
  type KonnektorContext,
  type KonnektorErrorCode,
  type TestPkiResult,
} from '../../../src/crypto/index.js';
import { readFileSync } from 'node:fs';
import { runSync } from '../../helpers/process.js';

// The software Konnektor built from configuration over the files `postamt pki init` writes:
// the context rules, each typed error, and sign/encrypt/decrypt/verify through it.

let dir: string;
let pki: TestPkiResult;
let konnektor: Konnektor;

const A: KonnektorContext = { mandantId: '1', clientSystemId: 'KOM_LE', workplaceId: '7' };
const B: KonnektorContext = { mandantId: '2', clientSystemId: 'PVS', workplaceId: 'any' };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postamt-konnektor-'));
  pki = await createTestPki({
    dir: join(dir, 'pki'),
    practices: [
      { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: 'praxis-a@praxis.kim.test' },
      { id: 'praxis-b', name: 'Praxis B', telematikId: '1-20014712', email: 'praxis-b@praxis.kim.test' },
    ],
    tlsNames: ['localhost'],
  });
  process.env['TEST_P12_PASSWORD'] = pki.p12Password;
  konnektor = fromConfig({
    trustAnchors: ['pki/ca.pem'],
    mandanten: [
      { id: '1', clientSystems: ['KOM_LE'], workplaces: ['7', '8'], smcb: { dir: 'pki/praxis-a' }, hba: { 'dr.a': { dir: 'pki/praxis-b' } } },
      {
        id: '2',
        clientSystems: ['PVS'],
        workplaces: ['*'],
        smcb: { signature: { p12: 'pki/praxis-b/osig.p12', password: pki.p12Password }, encryption: { p12: 'pki/praxis-b/enc.p12', password: pki.p12Password } },
      },
      { id: '3', clientSystems: ['PVS'], workplaces: ['*'], smcb: { signature: { p12: 'pki/praxis-b/osig.p12', password: 'wrong' }, encryption: { cert: 'pki/praxis-b/enc.pem', key: 'pki/praxis-b/enc.key' } } },
      { id: '4', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: 'pki/missing' } },
      { id: '5', clientSystems: ['PVS'], workplaces: ['*'], smcb: { signature: { cert: 'pki/praxis-a/osig.pem', key: 'pki/praxis-b/osig.key' }, encryption: { cert: 'pki/praxis-a/enc.pem', key: 'pki/praxis-a/enc.key' } } },
      { id: '6', clientSystems: ['PVS'], workplaces: ['*'] },
    ],
  });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function fromConfig(konnektorSection: unknown): Konnektor {
  const config = configSchema.parse({ dataDir: dir, konnektor: konnektorSection });
  return createKonnektor(config.konnektor, dir);
}

async function codeOf(p: Promise<unknown>): Promise<KonnektorErrorCode | string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KonnektorError || err instanceof CmsError) return err.code;
    throw err;
  }
  assert.fail('expected an error');
}

describe('context mapping', () => {
  test('unknown Mandant, ClientSystem not registered, Workplace not allowed', async () => {
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...A, mandantId: '99' }, 'C.SIG')), 'unknown-mandant');
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...A, clientSystemId: 'PVS' }, 'C.SIG')), 'unknown-client-system');
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...A, workplaceId: '9' }, 'C.SIG')), 'unknown-workplace');
    assert.equal(await codeOf(konnektor.encryptDocument({ ...A, workplaceId: '9' }, { content: new Uint8Array(1), recipients: [] })), 'unknown-workplace');
    assert.ok(await konnektor.readCardCertificate({ ...A, workplaceId: '8' }, 'C.SIG'));
    assert.ok(await konnektor.readCardCertificate(B, 'C.SIG'), "workplace '*' allows any");
  });

  test('each Mandant reads its own card; a UserId selects the HBA', async () => {
    const a = await konnektor.readCardCertificate(A, 'C.ENC');
    const b = await konnektor.readCardCertificate(B, 'C.ENC');
    const hba = await konnektor.readCardCertificate({ ...A, userId: 'dr.a' }, 'C.ENC');
    assert.ok(Buffer.from(a).equals(Buffer.from(readFileSync(pki.practices[0]!.enc!.certPath, 'latin1').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64')));
    assert.ok(Buffer.from(b).equals(Buffer.from(hba)), 'mandant 2 (from .p12) and the HBA (PEM dir) are practice B');
    assert.ok(!Buffer.from(a).equals(Buffer.from(b)));
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2057 (no SMC-B: SignDocument fails)
  test('card-not-found: UserId without HBA, Mandant without SMC-B, files missing', async () => {
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...A, userId: 'dr.x' }, 'C.SIG')), 'card-not-found');
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...B, mandantId: '6' }, 'C.SIG')), 'card-not-found');
    assert.equal(await codeOf(konnektor.signDocument({ ...B, mandantId: '4' }, { content: new Uint8Array(1), recipientEmails: [] })), 'card-not-found');
  });

  test('key-not-available: wrong PKCS#12 password, key not matching its certificate, no such certificate', async () => {
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...B, mandantId: '3' }, 'C.ENC')), 'key-not-available');
    assert.equal(await codeOf(konnektor.readCardCertificate({ ...B, mandantId: '5' }, 'C.ENC')), 'key-not-available');
    assert.equal(await codeOf(konnektor.readCardCertificate(B, 'C.AUT')), 'key-not-available');
  });

  test('configuration: unknown keys, duplicate Mandant ids, cards without keys and missing trust anchors are refused', () => {
    assert.throws(() => fromConfig({ mandanten: [{ id: '1', clientSystems: ['a'], workplaces: ['*'], smcb: { dir: 'x' }, pin: '1' }] }));
    assert.throws(() => fromConfig({ mandanten: [1, 1].map(() => ({ id: '1', clientSystems: ['a'], workplaces: ['*'] })) }), /unique/);
    assert.throws(() => fromConfig({ mandanten: [{ id: '1', clientSystems: ['a'], workplaces: ['*'], smcb: { signature: { p12: 'x', password: 'y' } } }] }), /dir/);
    assert.throws(() => fromConfig({ type: 'soap' }));
    assert.throws(() => fromConfig({ trustAnchors: ['nowhere.pem'] }), (err: unknown) => err instanceof KonnektorError && /nowhere\.pem/.test(err.message));
    assert.equal(configSchema.parse({}).konnektor.type, 'software', 'an empty section is valid');
  });
});

describe('operations', () => {
  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2177 (SignDocument, EncryptDocument), KOM-LE-A_2020 (the Mandant's SMC-B signs)
  test('sign, encrypt, decrypt and verify through the configured Konnektor (PEM and PKCS#12 cards)', async () => {
    const certA = await konnektor.readCardCertificate(A, 'C.ENC');
    const certB = await konnektor.readCardCertificate(B, 'C.ENC');
    const emails = [
      { email: 'praxis-a@praxis.kim.test', rid: recipientIdOf(certA) },
      { email: 'praxis-b@praxis.kim.test', rid: recipientIdOf(certB) },
    ];
    const signed = await konnektor.signDocument(A, { content: Buffer.from('Hallo'), recipientEmails: emails });
    const v = await konnektor.verifyDocument(B, { document: signed });
    assert.ok(v.ok, JSON.stringify(v.checks));
    assert.equal(v.recipientEmails.length, 2);
    const env = await konnektor.encryptDocument(A, { content: signed, recipients: emails.map((e, i) => ({ email: e.email, certDer: [certA, certB][i]! })) });
    for (const ctx of [A, B, { ...A, userId: 'dr.a' }]) assert.ok(Buffer.from((await konnektor.decryptDocument(ctx, { document: env })).content).equals(Buffer.from(signed)));
    // Mandant 2 signs with the PKCS#12 key; Mandant 1 trusts the same CA.
    assert.ok((await konnektor.verifyDocument(A, { document: await konnektor.signDocument(B, { content: Buffer.from('x'), recipientEmails: emails }) })).ok);
  });

  test('a KOM-LE message from Mandant 1 to Mandant 2 and back', async () => {
    const ps = Buffer.from('From: praxis-a@praxis.kim.test\r\nTo: praxis-b@praxis.kim.test\r\nMessage-ID: <k1@test>\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\nSubject: t\r\n\r\nBefund\r\n');
    const sealed = await sealMessage(ps, { konnektor, context: A, senderEmail: 'praxis-a@praxis.kim.test', recipients: [{ email: 'praxis-b@praxis.kim.test', certDer: await konnektor.readCardCertificate(B, 'C.ENC') }] });
    const r = await openMessage(sealed.message, { konnektor, context: B });
    assert.equal(r.integrity, '01', JSON.stringify(r.checks));
    assert.ok(Buffer.from(r.inner!).equals(ps));
    await assert.rejects(openMessage(sealed.message, { konnektor, context: { ...B, clientSystemId: 'KOM_LE' } }), { code: 'unknown-client-system' }, 'context errors are the caller\'s, not a result code');
  });

  test('decryption tries every encryption key of the card (certificate change)', async () => {
    const old = { certDer: Buffer.from(readFileSync(pki.practices[0]!.enc!.certPath, 'latin1').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64') };
    const both = new SoftwareKonnektor({
      trustAnchors: [],
      mandanten: [
        {
          id: 'm',
          clientSystems: ['c'],
          workplaces: ['*'],
          smcb: async () => ({
            encryption: [(await readPkcs12(readFileSync(pki.practices[1]!.enc!.p12Path), pki.p12Password)), await readPkcs12(readFileSync(pki.practices[0]!.enc!.p12Path), pki.p12Password)],
          }),
        },
      ],
    });
    const env = await both.encryptDocument({ mandantId: 'm', clientSystemId: 'c', workplaceId: 'w' }, { content: Buffer.from('alt'), recipients: [{ email: 'a@b.c', certDer: old.certDer }] });
    assert.equal(Buffer.from((await both.decryptDocument({ mandantId: 'm', clientSystemId: 'c', workplaceId: 'w' }, { document: env })).content).toString(), 'alt');
  });

  test('readPkcs12 reads a file exported by openssl pkcs12 -export', async () => {
    const out = join(dir, 'openssl.p12');
    runSync('openssl', ['pkcs12', '-export', '-in', pki.practices[0]!.osig!.certPath, '-inkey', pki.practices[0]!.osig!.keyPath, '-certfile', pki.caCertPath, '-passout', 'pass:geheim', '-out', out], { check: true });
    const p12 = await readPkcs12(readFileSync(out), 'geheim');
    assert.equal(p12.chainDer.length, 1);
    assert.equal(p12.privateKey.asymmetricKeyType, 'rsa');
    await assert.rejects(readPkcs12(readFileSync(out), 'falsch'), { reason: 'password' });
    await assert.rejects(readPkcs12(Buffer.from('not a pfx'), 'x'), { reason: 'format' });
  });
});

describe('ECC cards (A_17464, A_17472, KOM-LE-A_2020)', () => {
  let eccDir: string;
  let eccPki: TestPkiResult;
  const E: KonnektorContext = { mandantId: 'e', clientSystemId: 'PVS', workplaceId: '1' };
  const M: KonnektorContext = { mandantId: 'm', clientSystemId: 'PVS', workplaceId: '1' };
  const build = (serviceVersions?: { signatureService: string; encryptionService: string }) =>
    createKonnektor(
      configSchema.parse({
        konnektor: {
          trustAnchors: [join(eccDir, 'ca.pem')],
          workers: 0,
          ...(serviceVersions ? { serviceVersions } : {}),
          mandanten: [
            { id: 'e', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: join(eccDir, 'praxis-e') } },
            { id: 'm', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: join(eccDir, 'praxis-m') } },
          ],
        },
      }).konnektor,
      eccDir,
    );

  before(async () => {
    eccDir = mkdtempSync(join(tmpdir(), 'postamt-konnektor-ecc-'));
    eccPki = await createTestPki({
      dir: eccDir,
      practices: [
        { id: 'praxis-e', name: 'Praxis E', telematikId: '1-20014715', email: 'praxis-e@praxis.kim.test', keys: 'ecc' },
        { id: 'praxis-m', name: 'Praxis M', telematikId: '1-20014716', email: 'praxis-m@praxis.kim.test', keys: 'both' },
      ],
      tlsNames: ['localhost'],
    });
  });
  after(() => rmSync(eccDir, { recursive: true, force: true }));

  test('A_17464: ECC-capable from SignatureService 7.4.1 and EncryptionService 6.1.1 on', () => {
    assert.equal(eccCapable({ signatureService: '7.4.1', encryptionService: '6.1.1' }), true);
    assert.equal(eccCapable({ signatureService: '7.5', encryptionService: '6.2.0' }), true);
    assert.equal(eccCapable({ signatureService: '7.4.0', encryptionService: '6.1.1' }), false);
    assert.equal(eccCapable({ signatureService: '7.4.1', encryptionService: '6.1.0' }), false);
    assert.equal(eccCapable({ signatureService: '7.10.0', encryptionService: '6.1.1' }), true, 'compared as numbers, not text');
    assert.equal(eccCapable({ signatureService: 'x', encryptionService: '6.1.1' }), false);
    assert.equal(build().eccCapable, true, 'the default reports ECC-capable versions');
    assert.equal(build({ signatureService: '7.4.0', encryptionService: '6.0.0' }).eccCapable, false);
    assert.throws(() => configSchema.parse({ konnektor: { serviceVersions: { signatureService: 'seven', encryptionService: '6.1.1' } } }), /dotted version/);
  });

  test('a card with both kinds: RSA and ECC certificates by Crypt; KOM-LE-A_2020: RSA signs by default', async () => {
    const k = build();
    const rsaEnc = await k.readCardCertificate(M, 'C.ENC');
    const eccEnc = await k.readCardCertificate(M, 'C.ENC', 'ECC');
    assert.notDeepEqual(Buffer.from(rsaEnc), Buffer.from(eccEnc));
    assert.deepEqual(Buffer.from(eccEnc), Buffer.from(readFileSync(eccPki.practices[1]!.encEcc!.certPath, 'latin1').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'));
    const msg = Buffer.from('From: praxis-m@praxis.kim.test\r\nTo: praxis-e@praxis.kim.test\r\nSubject: x\r\n\r\nHallo\r\n');
    const e = await k.readCardCertificate(E, 'C.ENC', 'ECC');
    const sealed = await sealMessage(msg, { konnektor: k, context: M, senderEmail: 'praxis-m@praxis.kim.test', recipients: [{ certDer: e, email: 'praxis-e@praxis.kim.test' }] });
    assert.equal(sealed.recipientEmails.length, 3, "E's ECC certificate and M's RSA and ECC ones");
    const opened = await openMessage(sealed.message, { konnektor: k, context: E });
    assert.equal(opened.decryption, '00');
    assert.ok(opened.ok, JSON.stringify(opened.checks.filter((c) => !c.ok)));
    assert.match(opened.checks.find((c) => c.name === 'signature')!.detail, /RSASSA-PSS/);
    // With signatureKey ecc, ECDSA.
    const ecdsa = await sealMessage(msg, { konnektor: k, context: M, senderEmail: 'praxis-m@praxis.kim.test', recipients: [{ certDer: e, email: 'praxis-e@praxis.kim.test' }], signatureKey: 'ecc' });
    assert.match((await openMessage(ecdsa.message, { konnektor: k, context: E })).checks.find((c) => c.name === 'signature')!.detail, /ECDSA/);
  });

  test('an ECC-only card: no RSA signature key (KOM-LE-A_2020 default fails, rsa-else-ecc signs ECDSA), no RSA certificate', async () => {
    const k = build();
    await assert.rejects(k.readCardCertificate(E, 'C.ENC', 'RSA'), (err) => err instanceof KonnektorError && err.code === 'key-not-available');
    const msg = Buffer.from('From: praxis-e@praxis.kim.test\r\nTo: praxis-m@praxis.kim.test\r\nSubject: x\r\n\r\nHallo\r\n');
    const to = [{ certDer: await k.readCardCertificate(M, 'C.ENC', 'ECC'), email: 'praxis-m@praxis.kim.test' }];
    await assert.rejects(sealMessage(msg, { konnektor: k, context: E, senderEmail: 'praxis-e@praxis.kim.test', recipients: to }), (err) => err instanceof KonnektorError && err.code === 'key-not-available');
    const sealed = await sealMessage(msg, { konnektor: k, context: E, senderEmail: 'praxis-e@praxis.kim.test', recipients: to, signatureKey: 'rsa-else-ecc' });
    const opened = await openMessage(sealed.message, { konnektor: k, context: M });
    assert.ok(opened.ok, JSON.stringify(opened.checks.filter((c) => !c.ok)));
  });

  test('A_17472: a Konnektor without ECC offers no ECC key and decrypts with RSA keys only', async () => {
    const modern = build();
    const old = build({ signatureService: '7.4.0', encryptionService: '6.0.0' });
    await assert.rejects(old.readCardCertificate(M, 'C.ENC', 'ECC'), (err) => err instanceof KonnektorError && err.code === 'key-not-available');
    // A message for M's ECC certificate only: the old Konnektor cannot open it, the modern one can.
    const msg = Buffer.from('From: praxis-e@praxis.kim.test\r\nTo: praxis-m@praxis.kim.test\r\nSubject: x\r\n\r\nHallo\r\n');
    const sealed = await sealMessage(msg, { konnektor: modern, context: E, senderEmail: 'praxis-e@praxis.kim.test', recipients: [{ certDer: await modern.readCardCertificate(M, 'C.ENC', 'ECC'), email: 'praxis-m@praxis.kim.test' }], signatureKey: 'rsa-else-ecc' });
    assert.equal((await openMessage(sealed.message, { konnektor: modern, context: M })).decryption, '00');
    assert.notEqual((await openMessage(sealed.message, { konnektor: old, context: M })).decryption, '00');
    // The old Konnektor seals for the sender's RSA certificate only.
    const own = await sealMessage(msg, { konnektor: old, context: M, senderEmail: 'praxis-m@praxis.kim.test', recipients: [{ certDer: await old.readCardCertificate(M, 'C.ENC'), email: 'praxis-m@praxis.kim.test' }] });
    assert.equal(own.recipientEmails.length, 1);
  });
});

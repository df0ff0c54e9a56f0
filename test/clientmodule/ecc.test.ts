import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { repositoryPath, tempDir, testConfig } from '../helpers/env.js';
import { poplib, bodyOf } from '../helpers/poplib.js';
import { envelopeOf } from '../helpers/komle.js';
import { createLogger } from '../../src/core/index.js';
import { OID, createTestPki, encryptAuthEnveloped, envelopeRecipientEmails, openMessage } from '../../src/crypto/index.js';
import { judgeRecipient, usableForEncryption, usableWithKonnektor, type DirectoryRecord } from '../../src/clientmodule/index.js';
import { komLeVersionOf } from '../../src/clientmodule/komle-version.js';
import { createKonnektor } from '../../src/crypto/konnektor/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { startService, startDirectoryFor, startClientModule, type RunningService, type RunningDirectory, type RunningClientModule } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';
import { CMS_BER, childrenOf, expectIntegerBytes, expectOid, expectSequence, expectSet, readBer } from '../../src/wire/ber/index.js';

// ECC and RSA practices mail each other through the client module in any mix (issue 18):
// A has RSA and ECC certificates, E only ECC (brainpoolP256r1), R only RSA. One client module
// runs with an ECC-capable software Konnektor, another with one whose service versions are too
// old for ECC (A_17464), which must then leave ECC certificates alone (A_17472).

const DOMAIN = 'praxis.kim.test';
type Practice = { id: string; name: string; telematikId: string; email: string; keys: 'rsa' | 'ecc' | 'both' };
const A: Practice = { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: `praxis-a@${DOMAIN}`, keys: 'both' };
const E: Practice = { id: 'praxis-e', name: 'Praxis E', telematikId: '1-20014715', email: `praxis-e@${DOMAIN}`, keys: 'ecc' };
const R: Practice = { id: 'praxis-r', name: 'Praxis R', telematikId: '1-20014716', email: `praxis-r@${DOMAIN}`, keys: 'rsa' };
const PASSWORD = 'demo-password-long';

/** The keyEncryptionAlgorithm of every RecipientInfo, with the address recipient-emails gives it (matched by serial number). */
function recipientInfos(der: Uint8Array): Array<{ email: string; alg: string }> {
  const emails = envelopeRecipientEmails(der);
  const aed = expectSequence(childrenOf(expectSequence(readBer(der, 'ci', CMS_BER), 'ci')[1]!, 'ci')[0], 'aed');
  const ris = expectSet(aed[1], 'ris');
  assert.equal(ris.length, emails.length, 'one recipient-emails entry per RecipientInfo');
  return ris.map((ri) => {
    const f = expectSequence(ri, 'ri');
    const serial = Buffer.from(expectIntegerBytes(expectSequence(f[1], 'rid')[1], 'serial')).toString('hex');
    const e = emails.find((x) => x.rid.type === 'issuerAndSerialNumber' && Buffer.from(x.rid.serialNumber).toString('hex') === serial);
    assert.ok(e, 'every RecipientInfo is named in recipient-emails');
    return { email: e.email, alg: expectOid(expectSequence(f[2], 'alg')[0], 'oid') };
  });
}

describe('ECC and RSA practices through the client module (A_17220, A_17464, A_17472, KOM-LE-A_2020)', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let cm: RunningClientModule;
  let cmRsaOnly: RunningClientModule;
  const smtpUser = (address: string, mandant: string) => `${address}#127.0.0.1:${svc.endpoints['smtp-submission']!.port}#${mandant}#PVS#1`;
  const pop3User = (address: string, mandant: string) => `${address}#127.0.0.1:${svc.endpoints.pop3s!.port}#${mandant}#PVS#1`;
  const send = async (via: RunningClientModule, from: Practice, mandant: string, to: string[], subject: string) => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: via.endpoints['cm-smtp']!.port, secure: false, ignoreTLS: true, auth: { user: smtpUser(from.email, mandant), pass: PASSWORD } });
    try {
      const raw = `From: ${from.email}\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@pvs.test>\r\n\r\nBefund mit ECC.\r\n`;
      return await t.sendMail({ envelope: { from: from.email, to }, raw });
    } finally {
      t.close();
    }
  };
  const lastStored = async (address: string) => {
    const acc = await svc.accounts.get(address);
    const entries = await svc.mailboxes.list(acc.id);
    return svc.mailboxes.read(entries.at(-1)!);
  };
  const fetchLast = async (via: RunningClientModule, who: Practice, mandant: string) => {
    const r = await poplib(via.endpoints['cm-pop3']!.port, 'plain', pop3User(who.email, mandant), PASSWORD, [['stat'], ['quit']]);
    const count = (r.results[0] as number[])[0]!;
    const got = await poplib(via.endpoints['cm-pop3']!.port, 'plain', pop3User(who.email, mandant), PASSWORD, [['retr', count], ['quit']]);
    return bodyOf(got.results[0]).toString('utf8');
  };

  before(async () => {
    const pkiDir = join(d.path, 'pki');
    await createTestPki({ dir: pkiDir, practices: [A, E, R], tlsNames: ['localhost', '127.0.0.1'] });
    config = testConfig(d.path, {
      konnektor: {
        trustAnchors: ['pki/ca.pem'],
        mandanten: [A, E, R].map((p) => ({ id: `m-${p.id}`, clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: `pki/${p.id}` } })),
      },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { port: 0 } },
        pop3: { starttls: { port: 0 }, implicit: { port: 0 } },
        // E's card has no RSA key any more: it signs with ECC, the others with RSA (KOM-LE-A_2020).
        signatureKey: 'rsa-else-ecc',
        accounts: [A, E, R].map((p) => ({ address: p.email, contexts: [{ mandant: `m-${p.id}` }] })),
      },
    });
    const logger = createLogger('silent');
    svc = await startService(config, logger);
    await svc.accounts.addDomain(DOMAIN);
    for (const p of [A, E, R]) {
      await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
      // Every ENC certificate of the practice in its entry, as the demo publishes them.
      for (const f of readdirSync(join(pkiDir, p.id)).filter((n) => /^enc(-ecc)?\.pem$/.test(n))) {
        for (const der of certificatesFrom(readFileSync(join(pkiDir, p.id, f)))) await svc.directory.addCertificate(p.telematikId, der);
      }
    }
    dir = await startDirectoryFor(svc, config, logger);
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
    cm = await startClientModule(config, logger, { tls: svc.tls });
    const oldKonnektor = createKonnektor({ ...config.konnektor, serviceVersions: { signatureService: '7.4.0', encryptionService: '6.0.0' } }, config.dataDir);
    assert.equal(oldKonnektor.eccCapable, false);
    cmRsaOnly = await startClientModule(config, logger, { tls: svc.tls, konnektor: oldKonnektor });
  });
  after(async () => {
    await cm?.close(1000);
    await cmRsaOnly?.close(1000);
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  test('A_17220: A (RSA+ECC) to the ECC-only practice E: one TI-ECIES RecipientInfo for E, two for A; E reads it: DecryptionResult 00, IntegrityCheckResult 01', async () => {
    const info = await send(cm, A, 'm-praxis-a', [E.email], 'An E');
    assert.match(info.response, /^250 /);
    const ris = recipientInfos(envelopeOf(await lastStored(E.email)));
    assert.deepEqual(ris.filter((r) => r.email === E.email).map((r) => r.alg), [OID.tiEciesTransportEncryption]);
    assert.deepEqual(ris.filter((r) => r.email === A.email).map((r) => r.alg).sort(), [OID.rsaesOaep, OID.tiEciesTransportEncryption].sort());
    const text = await fetchLast(cm, E, 'm-praxis-e');
    assert.match(text, /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match(text, /^X-KIM-IntegrityCheckResult: 01\r$/m);
    assert.match(text, /Befund mit ECC\./);
  });

  test('E (ECC only) to A (both): two RecipientInfos for A, ECDSA signature; A reads it with either key: 00 / 01', async () => {
    const info = await send(cm, E, 'm-praxis-e', [A.email], 'Von E');
    assert.match(info.response, /^250 /);
    const stored = await lastStored(A.email);
    const ris = recipientInfos(envelopeOf(stored));
    assert.equal(ris.filter((r) => r.email === A.email).length, 2, 'both of A\'s certificates');
    const k = createKonnektor(config.konnektor, config.dataDir);
    const opened = await openMessage(stored, { konnektor: k, context: { mandantId: 'm-praxis-a', clientSystemId: 'PVS', workplaceId: '1' } });
    await k.close?.();
    assert.match(opened.checks.find((c) => c.name === 'signature')!.detail, /^ECDSA SHA-256 signature .* is valid/);
    assert.deepEqual(ris.filter((r) => r.email === E.email).map((r) => r.alg), [OID.tiEciesTransportEncryption]);
    const text = await fetchLast(cm, A, 'm-praxis-a');
    assert.match(text, /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match(text, /^X-KIM-IntegrityCheckResult: 01\r$/m);
  });

  test('R (RSA only) and A mail each other: RSA where only RSA exists, both kinds for A', async () => {
    assert.match((await send(cm, R, 'm-praxis-r', [A.email], 'Von R')).response, /^250 /);
    const toA = recipientInfos(envelopeOf(await lastStored(A.email)));
    assert.deepEqual(toA.filter((r) => r.email === R.email).map((r) => r.alg), [OID.rsaesOaep]);
    assert.equal(toA.filter((r) => r.email === A.email).length, 2);
    assert.match(await fetchLast(cm, A, 'm-praxis-a'), /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match((await send(cm, A, 'm-praxis-a', [R.email], 'An R')).response, /^250 /);
    const text = await fetchLast(cm, R, 'm-praxis-r');
    assert.match(text, /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match(text, /^X-KIM-IntegrityCheckResult: 01\r$/m);
  });

  test('A_17472: with a Konnektor without ECC (A_17464: SignatureService 7.4.0) no ECC certificate is used', async () => {
    assert.match((await send(cmRsaOnly, A, 'm-praxis-a', [R.email], 'Alt an R')).response, /^250 /);
    const ris = recipientInfos(envelopeOf(await lastStored(R.email)));
    assert.ok(ris.every((r) => r.alg === OID.rsaesOaep), JSON.stringify(ris));
    assert.equal(ris.filter((r) => r.email === A.email).length, 1, "only A's RSA certificate");
    // E has ECC certificates only: nobody to encrypt for (KOM-LE-A_2025).
    await assert.rejects(send(cmRsaOnly, A, 'm-praxis-a', [E.email], 'Alt an E'), /451/);
  });
});

describe("gematik's sample SMC-B ENC certificates (E256 and R2048) as the client module chooses them", () => {
  const samples = repositoryPath('test', 'fixtures', 'gematik-smcb-enc');
  const card = (n: string, kind: 'E256' | 'R2048') => readFileSync(join(samples, `8027600101169990085${n}-C_SMCB_ENC_${kind}_X509.crt`));
  const record = (): DirectoryRecord => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    const certificates = [card('6', 'R2048'), card('6', 'E256')].map((der) => ({ ...usableForEncryption(der, now)!, entryTelematikId: '9-2KIM-BITMARCK-01' }));
    return { address: 'kim@bitmarck.test', certificates, entryTelematikIds: ['9-2KIM-BITMARCK-01'], komLeVersion: komLeVersionOf('kim@bitmarck.test', [], []) };
  };

  test('A_17220: both are usable for encryption, by kind (the E256 one by keyAgreement)', () => {
    const r = record();
    assert.deepEqual(r.certificates.map((c) => c.kind), ['rsa', 'ecc']);
    assert.ok(r.certificates.every((c) => c.telematikId === '9-2KIM-BITMARCK-01'));
  });

  test('§3.3.4.1.1: with an ECC-capable Konnektor both get a RecipientInfo (TI-ECIES for the E256); A_17472: without, only the R2048', () => {
    const both = usableWithKonnektor(record(), true);
    assert.equal(both.certificates.length, 2);
    const der = encryptAuthEnveloped(Buffer.from('x'), both.certificates.map((c) => ({ certDer: c.der, email: both.address })));
    assert.deepEqual(recipientInfos(der).map((r) => r.alg).sort(), [OID.rsaesOaep, OID.tiEciesTransportEncryption].sort());
    const rsaOnly = usableWithKonnektor(record(), false);
    assert.deepEqual(rsaOnly.certificates.map((c) => c.kind), ['rsa']);
    assert.equal(judgeRecipient(rsaOnly).ok, true);
    // An address whose only certificate is the E256: nobody to encrypt for without ECC.
    const eccOnly = { ...record(), certificates: record().certificates.filter((c) => c.kind === 'ecc') };
    assert.equal(judgeRecipient(usableWithKonnektor(eccOnly, false)).ok, false);
    assert.equal(judgeRecipient(usableWithKonnektor(eccOnly, true)).ok, true);
  });
});

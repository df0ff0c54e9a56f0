import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { PassThrough } from 'node:stream';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { RawSmtpClient } from '../helpers/net.js';
import { envelopeOf } from '../helpers/komle.js';
import { createLogger } from '../../src/core/index.js';
import { createTestPki, decryptAuthEnveloped, openMessage, createKonnektor, type DecryptionKey, type Konnektor } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { CertificateLookup, komLeVersionOf } from '../../src/clientmodule/index.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import { mime } from '../../src/wire/index.js';
import { startService, startDirectoryFor, startClientModule, type RunningService, type RunningDirectory, type RunningClientModule } from '../../src/roles/index.js';

// The client module's sending rules (gemSpec_CM_KOMLE 3.3, the KIM FAQ on RCPT TO, A_20650-05,
// A_21387-01) end to end: a PS sends through the client module to a real service, with a real
// directory over LDAP; what the service stored is decrypted with the recipients' keys.

const DOMAIN = 'regeln.kim.test';
const addr = (local: string) => `${local}@${DOMAIN}`;
const A = addr('praxis-a');
const B = addr('praxis-b');
const C = addr('praxis-c');
const D = addr('praxis-d');
const E = addr('praxis-e');
const OLD = addr('praxis-alt');
const NEW = addr('praxis-neu');
const GONE = addr('verzogen');
const DUP = addr('doppelt');
const TWO = addr('zwei-eintraege');
const NO_CERT = addr('ohne-zertifikat');
const PASSWORD = 'send-rules-password';

const TID = { A: '1-30000001', B: '1-30000002', C: '1-30000003', D: '1-30000004', E: '1-30000005', OLD: '1-30000006', NEW: '1-30000007', GONE: '1-30000008', DUP1: '1-30000091', DUP2: '1-30000092', TWO1: '1-30000081', TWO2: '1-30000082', NO_CERT: '1-30000099' };
const PRACTICES = [
  { id: 'praxis-a', name: 'Praxis A', telematikId: TID.A, email: A },
  { id: 'praxis-a2', name: 'Praxis A (zweite Karte)', telematikId: TID.A, email: A },
  { id: 'praxis-b', name: 'Praxis B', telematikId: TID.B, email: B },
  { id: 'praxis-c', name: 'Praxis C', telematikId: TID.C, email: C },
  { id: 'praxis-d', name: 'Praxis D', telematikId: TID.D, email: D },
  { id: 'praxis-e1', name: 'Praxis E', telematikId: TID.E, email: E },
  { id: 'praxis-e2', name: 'Praxis E (neue Karte)', telematikId: TID.E, email: E },
  { id: 'praxis-alt', name: 'Praxis Alt', telematikId: TID.OLD, email: OLD },
  { id: 'praxis-neu', name: 'Praxis Neu', telematikId: TID.NEW, email: NEW },
  { id: 'verzogen', name: 'Verzogen', telematikId: TID.GONE, email: GONE },
  { id: 'dup-1', name: 'Doppelt 1', telematikId: TID.DUP1, email: DUP },
  { id: 'dup-2', name: 'Doppelt 2', telematikId: TID.DUP2, email: DUP },
  { id: 'two-1', name: 'Zwei 1', telematikId: TID.TWO1, email: TWO },
  { id: 'two-2', name: 'Zwei 2', telematikId: TID.TWO2, email: TWO },
];

const header = (raw: Buffer, name: string) => mime.findFields(mime.readHeaderBlock(raw).fields, name).map((f) => f.value);

describe('client module send rules', () => {
  const d = tempDir();
  let pkiDir: string;
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let cm: RunningClientModule;
  let konnektor: Konnektor;
  const cmLog: string[] = [];

  const smtpUser = (address: string, mandant: string) => `${address}#127.0.0.1:${svc.endpoints['smtp-submission']!.port}#${mandant}#PVS#1`;
  const send = async (from: string, mandant: string, rcpts: string[], raw: string) => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, secure: false, ignoreTLS: true, auth: { user: smtpUser(from, mandant), pass: PASSWORD } });
    try {
      return await t.sendMail({ envelope: { from, to: rcpts }, raw: Buffer.from(raw.replace(/\n/g, '\r\n'), 'utf8') });
    } finally {
      t.close();
    }
  };
  const mailbox = async (address: string) => {
    const acc = await svc.accounts.get(address);
    const entries = await svc.mailboxes.list(acc.id);
    return Promise.all(entries.map((e) => svc.mailboxes.read(e)));
  };
  /** What arrives in `address`'s mailbox while `run` runs. */
  const arriving = async (addresses: string[], run: () => Promise<unknown>): Promise<Buffer[][]> => {
    const before = await Promise.all(addresses.map(async (a) => (await mailbox(a)).length));
    await run();
    return Promise.all(addresses.map(async (a, i) => (await mailbox(a)).slice(before[i])));
  };
  const key = (practice: string): DecryptionKey => ({
    certDer: certificatesFrom(readFileSync(join(pkiDir, practice, 'enc.pem')))[0]!,
    privateKey: createPrivateKey(readFileSync(join(pkiDir, practice, 'enc.key'))),
  });
  const open = (raw: Buffer, mandant: string) => openMessage(raw, { konnektor, context: { mandantId: mandant, clientSystemId: 'PVS', workplaceId: '1' } });
  const isDsn = (m: Buffer) => /^Content-Type: multipart\/report; report-type=delivery-status/m.test(m.toString('latin1'));

  before(async () => {
    pkiDir = join(d.path, 'pki');
    await createTestPki({ dir: pkiDir, practices: PRACTICES, tlsNames: ['localhost', '127.0.0.1'] });
    const card = (id: string) => ({ dir: `pki/${id}` });
    const mandant = (id: string, practice: string) => ({ id, clientSystems: ['PVS'], workplaces: ['*'], smcb: card(practice) });
    config = testConfig(d.path, {
      konnektor: {
        trustAnchors: ['pki/ca.pem'],
        mandanten: [
          mandant('m-a', 'praxis-a'),
          mandant('m-b', 'praxis-b'),
          mandant('m-c', 'praxis-c'),
          mandant('m-d', 'praxis-d'),
          mandant('m-e1', 'praxis-e1'),
          mandant('m-e2', 'praxis-e2'),
          mandant('m-alt', 'praxis-alt'),
          mandant('m-neu', 'praxis-neu'),
        ],
      },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { port: 0 } },
        pop3: { starttls: { port: 0 }, implicit: { port: 0 } },
        accounts: [
          { address: A, contexts: [{ mandant: 'm-a' }] },
          { address: OLD, contexts: [{ mandant: 'm-alt' }] },
          { address: NEW, contexts: [{ mandant: 'm-neu' }] },
        ],
      },
    });
    svc = await startService(config, createLogger('silent'));
    await svc.accounts.addDomain(DOMAIN);
    const accounts: Array<[string, string]> = [[A, TID.A], [B, TID.B], [C, TID.C], [D, TID.D], [E, TID.E], [OLD, TID.OLD], [NEW, TID.NEW], [DUP, TID.DUP1], [TWO, TID.TWO1], [NO_CERT, TID.NO_CERT]];
    for (const [address, telematikId] of accounts) await svc.accounts.add({ address, password: PASSWORD, displayName: address, telematikId });
    const der = (practice: string) => certificatesFrom(readFileSync(join(pkiDir, practice, 'enc.pem')))[0]!;
    // Entries as the card issuers publish them: one or two certificates per entry.
    for (const [tid, practice] of [[TID.A, 'praxis-a'], [TID.A, 'praxis-a2'], [TID.B, 'praxis-b'], [TID.C, 'praxis-c'], [TID.D, 'praxis-d'], [TID.E, 'praxis-e1'], [TID.E, 'praxis-e2'], [TID.OLD, 'praxis-alt'], [TID.NEW, 'praxis-neu']] as const) {
      await svc.directory.addCertificate(tid, der(practice));
    }
    // One entry holding two ENC certificates issued to different Telematik-IDs (KOM-LE-A_2178).
    await svc.directory.addCertificate(TID.DUP1, der('dup-1'));
    await svc.directory.addCertificate(TID.DUP1, der('dup-2'));
    // Two entries with different telematikIDs naming one address (4003).
    await svc.directory.addCertificate(TID.TWO1, der('two-1'));
    await svc.directory.add({ attributes: [{ name: 'telematikID', value: TID.TWO2 }, { name: 'displayName', value: 'Zwei 2' }, { name: 'mail', value: TWO }, { name: 'userCertificate', value: der('two-2') }] });
    // An address with a certificate in the directory but no mailbox at the service any more.
    await svc.directory.add({ attributes: [{ name: 'telematikID', value: TID.GONE }, { name: 'displayName', value: 'Verzogen' }, { name: 'mail', value: GONE }, { name: 'userCertificate', value: der('verzogen') }] });
    // The senders' registered versions: newer than this client module (2.0), older (1.0).
    const setKimData = (tid: string, value: string) => svc.directory.modify(tid, (cur) => ({ attrs: { ...cur!.attrs, kimData: [value] }, certs: cur!.certs }));
    await setKimData(TID.OLD, `${OLD},2.0`);
    await setKimData(TID.NEW, `${NEW},1.0`);
    dir = await startDirectoryFor(svc, config, createLogger('silent'));
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) => cmLog.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    cm = await startClientModule(config, createLogger('info', logStream), { tls: svc.tls });
    konnektor = createKonnektor(config.konnektor, config.dataDir);
  });
  after(async () => {
    await konnektor?.close?.();
    await cm?.close(1000);
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  test('KOM-LE-A_2028 / KOM-LE-A_2024-01 / A_20650-05: a recipient without a usable certificate is dropped from the envelope and from To/Cc; the sender gets one DSN naming it, X-KIM-Fehlermeldung 4004', async () => {
    const [atB, atC, atNoCert, atA] = await arriving([B, C, NO_CERT, A], async () => {
      const info = await send(A, 'm-a', [B, NO_CERT, C],
        `From: Praxis A <${A}>\nTo: =?utf-8?Q?Praxis_B=C3=A4r?= <${B}>,\n "Ohne, Zertifikat" <${NO_CERT}>\nCc: ${C}\nSubject: Befund\nMessage-ID: <drop-1@pvs.test>\n\nText Hämoglobin\n`);
      assert.match(info.response, /^250 .*sent to 2 recipient\(s\), 1 dropped/);
    });
    assert.equal(atNoCert!.length, 0, 'nothing goes to the recipient without a certificate');
    assert.equal(atB!.length, 1);
    assert.equal(atC!.length, 1);
    const opened = await open(atB![0]!, 'm-b');
    assert.equal(opened.integrity, '01', JSON.stringify(opened.checks.filter((c) => !c.ok)));
    const inner = Buffer.from(opened.inner!).toString('latin1');
    assert.match(inner, new RegExp(`^To: =\\?utf-8\\?Q\\?Praxis_B=C3=A4r\\?= <${B}>\\r\\n(?![ \\t])`, 'm'), 'the kept recipient as written, the dropped one gone');
    assert.match(inner, new RegExp(`^Cc: ${C}\\r\\n`, 'm'), 'an untouched field keeps its bytes');
    assert.ok(!inner.includes(NO_CERT) && !inner.includes('Ohne, Zertifikat'), 'the dropped address is nowhere in the inner message');
    assert.ok(!atB![0]!.toString('latin1').includes(NO_CERT), 'nor in the outer one');
    assert.deepEqual(header(atB![0]!, 'To'), header(Buffer.from(opened.inner!), 'To'), 'outer To = inner To');

    const reports = atA!.filter(isDsn);
    assert.equal(reports.length, 1, 'one DSN');
    const dsn = reports[0]!.toString('utf8');
    assert.deepEqual(header(reports[0]!, 'X-KIM-Fehlermeldung'), ['4004']);
    assert.match(dsn, new RegExp(`Final-Recipient: rfc822; ${NO_CERT}\\r\\nAction: failed\\r\\nStatus: 5\\.7\\.0\\r\\nDiagnostic-Code: x-kim; 4004 `));
    assert.match(dsn, /X-KIM-Fehlermeldung 4004: Nachricht nicht für alle Empfänger verschlüsselbar/, 'the text names the code and its table text');
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; praxis-[bc]@/, 'only the dropped recipient is reported failed');
    assert.ok(!dsn.includes('Hämoglobin'), 'no body');
    assert.doesNotMatch(dsn, /application\/pkcs7-mime/, 'neither signed nor encrypted');
  });

  test('A_23174 (FAQ "Umgang mit dem RCPT TO"): only RCPT addresses that passed stay in To/Cc; an address given only in the header is removed; a field left without one is removed entirely', async () => {
    const [atB] = await arriving([B], () =>
      send(A, 'm-a', [B], `From: ${A}\nTo: ${B}, Fremd <fremd@elsewhere.example>\nCc: =?utf-8?Q?Nicht_gepr=C3=BCft?= <${C}>\nSubject: Nur B\nMessage-ID: <a23174-1@pvs.test>\n\nx\n`),
    );
    const opened = await open(atB![0]!, 'm-b');
    assert.equal(opened.integrity, '01');
    const inner = Buffer.from(opened.inner!);
    assert.deepEqual(header(inner, 'To'), [B]);
    assert.deepEqual(header(inner, 'Cc'), [], 'Cc named nobody who was checked: gone');
    assert.deepEqual(header(atB![0]!, 'Cc'), [], 'outside too');
    assert.ok(!inner.toString('latin1').includes('fremd@elsewhere.example'));
  });

  test('KOM-LE-A_2025: nobody can be encrypted for → 451 to the PS and nothing upstream (no message, no DSN)', async () => {
    const [atA, atNoCert] = await arriving([A, NO_CERT], async () => {
      await assert.rejects(send(A, 'm-a', [NO_CERT, DUP], `From: ${A}\nTo: ${NO_CERT}, ${DUP}\nSubject: x\n\nx\n`), (e: { responseCode?: number; response?: string }) => {
        assert.equal(e.responseCode, 451);
        assert.match(e.response ?? '', /4\.7\.0 no recipient can be encrypted for/);
        return true;
      });
    });
    assert.deepEqual([atA!.length, atNoCert!.length], [0, 0]);
  });

  test('Bcc: the To/Cc copy names no hidden recipient anywhere (headers, recipient-emails, RecipientInfos); the hidden recipient gets a copy of its own, encrypted for it and the sender only', async () => {
    let response = '';
    const [atB, atC, atD, atA] = await arriving([B, C, D, A], async () => {
      const info = await send(A, 'm-a', [B, C, D], `From: ${A}\nTo: ${B}\nCc: ${C}\nBcc: Geheim <${D}>\nSubject: Mit Bcc\nMessage-ID: <bcc-1@pvs.test>\n\nvertraulich\n`);
      response = info.response;
    });
    assert.match(response, /^250 .*sent to 3 recipient\(s\), 1 in separate copies/);
    assert.equal(atA!.filter(isDsn).length, 0, 'nothing to report');
    assert.deepEqual([atB!.length, atC!.length, atD!.length], [1, 1, 1]);
    const main = atB![0]!;
    assert.ok(atC![0]!.subarray(atC![0]!.indexOf('\r\n\r\n')).equals(main.subarray(main.indexOf('\r\n\r\n'))), 'B and C got the same sealed copy');

    // The copy for B and C: D is named nowhere, in no header, in no byte B can decrypt.
    assert.ok(!main.toString('latin1').includes(D), 'not in the outer message');
    const envB = decryptAuthEnveloped(envelopeOf(main), key('praxis-b'));
    assert.ok(!Buffer.from(envB.content).toString('latin1').includes(D), 'not in the decrypted content (inner header, signed recipient-emails)');
    assert.deepEqual(envB.recipientEmails.map((r) => r.email).sort(), [A, A, B, C].sort(), 'unauthenticated recipient-emails: B, C and the sender\'s two certificates');
    assert.equal(envB.recipientInfoCount, 4, 'RecipientInfos: B, C, A ×2 — none for D');
    assert.throws(() => decryptAuthEnveloped(envelopeOf(main), key('praxis-d')), 'D\'s key opens no RecipientInfo of it');
    const openedB = await open(main, 'm-b');
    assert.equal(openedB.integrity, '01', JSON.stringify(openedB.checks.filter((c) => !c.ok)));
    assert.deepEqual(openedB.recipientEmails!.signed.map((r) => r.email).sort(), [A, A, B, C].sort(), 'signed recipient-emails');
    assert.deepEqual(header(Buffer.from(openedB.inner!), 'Bcc'), [], 'no Bcc field inside');
    assert.deepEqual(header(main, 'Bcc'), [], 'nor outside');

    // D's own copy: for D and the sender, the same message without the Bcc field.
    const hidden = atD![0]!;
    const envD = decryptAuthEnveloped(envelopeOf(hidden), key('praxis-d'));
    assert.deepEqual(envD.recipientEmails.map((r) => r.email).sort(), [A, A, D].sort());
    assert.equal(envD.recipientInfoCount, 3);
    assert.throws(() => decryptAuthEnveloped(envelopeOf(hidden), key('praxis-b')), 'B cannot read D\'s copy');
    const openedD = await open(hidden, 'm-d');
    assert.equal(openedD.integrity, '01', JSON.stringify(openedD.checks.filter((c) => !c.ok)));
    assert.ok(Buffer.from(openedD.inner!).equals(Buffer.from(openedB.inner!)), 'both copies sign the same inner message');
    assert.deepEqual(header(Buffer.from(openedD.inner!), 'Bcc'), []);
    assert.deepEqual(header(hidden, 'Message-ID'), ['<bcc-1@pvs.test>']);
  });

  test('Bcc: a recipient given only in RCPT TO (no Bcc field) is hidden too; with no To/Cc recipient there is no main copy and every recipient gets its own', async () => {
    const [atB, atC] = await arriving([B, C], () => send(A, 'm-a', [B, C], `From: ${A}\nTo: undisclosed-recipients:;\nSubject: Rundschreiben\n\nx\n`));
    assert.deepEqual([atB!.length, atC!.length], [1, 1]);
    const envB = decryptAuthEnveloped(envelopeOf(atB![0]!), key('praxis-b'));
    const envC = decryptAuthEnveloped(envelopeOf(atC![0]!), key('praxis-c'));
    assert.deepEqual(envB.recipientEmails.map((r) => r.email).sort(), [A, A, B]);
    assert.deepEqual(envC.recipientEmails.map((r) => r.email).sort(), [A, A, C]);
    assert.ok(!Buffer.from(envB.content).toString('latin1').includes(C) && !Buffer.from(envC.content).toString('latin1').includes(B), 'neither names the other');
    assert.deepEqual(header(atB![0]!, 'To'), ['undisclosed-recipients:;'], 'the PS\'s empty group stays');
    assert.deepEqual(header(atB![0]!, 'Message-ID'), header(atC![0]!, 'Message-ID'), 'one Message-ID (added by the client module) for both copies');
    assert.equal(header(atB![0]!, 'Message-ID').length, 1);
  });

  test('Bcc: a hidden copy the service refuses after the main copy was accepted → 250 and a DSN for that recipient (X-KIM-Fehlermeldung X01); when the main copy is refused the PS gets the error and no hidden copy goes out', async () => {
    const [atB, atA] = await arriving([B, A], async () => {
      const info = await send(A, 'm-a', [B, GONE], `From: ${A}\nTo: ${B}\nBcc: ${GONE}\nSubject: x\nMessage-ID: <gone-1@pvs.test>\n\nx\n`);
      assert.match(info.response, /^250 .*sent to 1 recipient\(s\), 1 in separate copies, 1 dropped/);
    });
    assert.equal(atB!.length, 1);
    const reports = atA!.filter(isDsn);
    assert.equal(reports.length, 1);
    assert.deepEqual(header(reports[0]!, 'X-KIM-Fehlermeldung'), ['X01']);
    assert.match(reports[0]!.toString('utf8'), new RegExp(`Final-Recipient: rfc822; ${GONE}\\r\\nAction: failed\\r\\nStatus: 5\\.\\d\\.\\d\\r\\nDiagnostic-Code: x-kim; X01 refused by the mail service: 5`));

    const [atB2, atA2] = await arriving([B, A], async () => {
      await assert.rejects(send(A, 'm-a', [GONE, B], `From: ${A}\nTo: ${GONE}\nBcc: ${B}\nSubject: x\n\nx\n`), (e: { responseCode?: number; response?: string }) => {
        assert.ok(e.responseCode! >= 500, String(e.response));
        assert.match(e.response ?? '', /mail service: /);
        return true;
      });
    });
    assert.deepEqual([atB2!.length, atA2!.length], [0, 0], 'the hidden copy waits for the main one: nothing sent, nothing reported');
  });

  test('KOM-LE-A_2178 / KOM-LE-A_2192-01 / 4003: ENC certificates with different Telematik-IDs for one address (4005), entries with different telematikIDs for one address (4003): not sent to; one DSN with every code', async () => {
    const [atB, atA] = await arriving([B, A], () => send(A, 'm-a', [B, DUP, TWO, NO_CERT], `From: ${A}\nTo: ${B}, ${DUP}, ${TWO}, ${NO_CERT}\nSubject: x\nMessage-ID: <tid-1@pvs.test>\n\nx\n`));
    assert.equal(atB!.length, 1);
    const envB = decryptAuthEnveloped(envelopeOf(atB![0]!), key('praxis-b'));
    assert.deepEqual(envB.recipientEmails.map((r) => r.email).sort(), [A, A, B]);
    assert.equal(envB.recipientInfoCount, 3, 'no RecipientInfo for either certificate of the ambiguous addresses');
    for (const p of ['dup-1', 'dup-2', 'two-1', 'two-2']) assert.throws(() => decryptAuthEnveloped(envelopeOf(atB![0]!), key(p)), p);
    const reports = atA!.filter(isDsn);
    assert.equal(reports.length, 1);
    const dsn = reports[0]!.toString('utf8');
    assert.deepEqual(header(reports[0]!, 'X-KIM-Fehlermeldung'), ['4005', '4003', '4004'], 'one field per code, in the order of the recipients');
    assert.match(dsn, new RegExp(`Final-Recipient: rfc822; ${DUP}\\r\\nAction: failed\\r\\nStatus: 5\\.7\\.0\\r\\nDiagnostic-Code: x-kim; 4005 the encryption certificates carry different Telematik-IDs \\(${TID.DUP1}, ${TID.DUP2}\\)`));
    assert.match(dsn, new RegExp(`Final-Recipient: rfc822; ${TWO}\\r\\nAction: failed\\r\\nStatus: 5\\.7\\.0\\r\\nDiagnostic-Code: x-kim; 4003 `));
    assert.match(dsn, /X-KIM-Fehlermeldung 4005: Für einen Empfänger existieren mehrere Verschlüsselungszertifikate mit unterschiedlichen Telematik-IDs/);
    assert.match(dsn, /X-KIM-Fehlermeldung 4003: keine eindeutige Telematik-ID mit Verschlüsselungszertifikat gefunden/);
    assert.doesNotMatch(Buffer.from((await open(atB![0]!, 'm-b')).inner!).toString('latin1'), new RegExp(`${DUP}|${TWO}|${NO_CERT}`), 'all three gone from To');
  });

  test('KOM-LE-A_2022: encrypted for every ENC certificate of each recipient and of the sender (from the directory)', async () => {
    const [atE] = await arriving([E], () => send(A, 'm-a', [E], `From: ${A}\nTo: ${E}\nSubject: x\nMessage-ID: <all-certs@pvs.test>\n\nx\n`));
    const raw = atE![0]!;
    for (const p of ['praxis-e1', 'praxis-e2', 'praxis-a', 'praxis-a2']) {
      const env = decryptAuthEnveloped(envelopeOf(raw), key(p));
      assert.equal(env.recipientInfoCount, 4, p);
    }
    for (const m of ['m-e1', 'm-e2']) assert.equal((await open(raw, m)).integrity, '01', `${m} opens it`);
  });

  test('A_21387-01: the directory lists KOM-LE 2.0 for the sender (kimData) → a DSN "client module outdated" with 4017, and the message is still sent; a sender listed with 1.0 is logged once, no DSN', async () => {
    const [atB, atOld] = await arriving([B, OLD], () => send(OLD, 'm-alt', [B], `From: ${OLD}\nTo: ${B}\nSubject: x\nMessage-ID: <old-1@pvs.test>\n\nx\n`));
    assert.equal(atB!.length, 1, 'sent');
    assert.equal((await open(atB![0]!, 'm-b')).integrity, '01');
    const reports = atOld!.filter(isDsn);
    assert.equal(reports.length, 1);
    const dsn = reports[0]!.toString('utf8');
    assert.deepEqual(header(reports[0]!, 'X-KIM-Fehlermeldung'), ['4017']);
    assert.match(dsn, /X-KIM-Fehlermeldung 4017: Die KIM-Version des Clientmoduls ist kleiner als die im Verzeichnisdienst zu seinem Eintrag hinterlegte Version/);
    assert.match(dsn, /KIM-Clientmodul \(KOM-LE-Version 1\.5\) ist veraltet: im Verzeichnisdienst ist für\r\nIhre Adresse die Version 2\.0 eingetragen/);
    assert.match(dsn, new RegExp(`Final-Recipient: rfc822; ${B}\\r\\nAction: relayed\\r\\nStatus: 2\\.0\\.0`), 'RFC 3464 needs a recipient: the one it went to');

    const [atNew] = await arriving([NEW], async () => {
      await send(NEW, 'm-neu', [B], `From: ${NEW}\nTo: ${B}\nSubject: x\n\nx\n`);
      await send(NEW, 'm-neu', [B], `From: ${NEW}\nTo: ${B}\nSubject: y\n\ny\n`);
    });
    assert.equal(atNew!.filter(isDsn).length, 0, 'an older directory value is no error of the sender\'s');
    const noted = cmLog.filter((l) => l.includes(NEW) && l.includes('older KOM-LE version'));
    assert.equal(noted.length, 1, 'logged once for the address');
    assert.equal(JSON.parse(noted[0]!).level, 30, 'at info level');
    // A sender whose entry says what the client module is (the feed's 1.5) gets no report at all.
    const [atA] = await arriving([A], () => send(A, 'm-a', [B], `From: ${A}\nTo: ${B}\nSubject: z\n\nz\n`));
    assert.equal(atA!.filter(isDsn).length, 0);
  });

  test('A_19356-06 / A_22340: one search gives certificates, Telematik-IDs and the KOM-LE version; the version is kept on the lookup result and cached at most versionCacheTtlMs', async () => {
    let now = Date.now();
    const lookup = new CertificateLookup(
      { url: config.clientModule.directory.url, baseDn: 'dc=data,dc=vzd', startTls: false, cacheTtlMs: 12 * 3_600_000, negativeCacheTtlMs: 60_000, versionCacheTtlMs: 3_600_000, timeoutMs: 5000, maxCacheEntries: 100 },
      createLogger('silent'),
      () => now,
    );
    try {
      await svc.directory.modify(TID.E, (cur) => ({ attrs: { ...cur!.attrs, kimData: [`${E},1.5+,eEB|DALE-UV`] }, certs: cur!.certs }));
      const e = await lookup.lookup(E);
      assert.equal(e.certificates.length, 2);
      assert.deepEqual(e.certificates.map((c) => c.telematikId), [TID.E, TID.E], 'the Admission extension\'s Telematik-ID');
      assert.deepEqual(e.entryTelematikIds, [TID.E]);
      assert.deepEqual(e.komLeVersion, { version: '1.5', large: true, appTags: ['eEB', 'DALE-UV'], source: 'kimData' });
      const b = await lookup.lookup(B);
      assert.deepEqual(b.komLeVersion, { version: '1.5', large: false, appTags: [], source: 'kimData' }, 'the account feed\'s value');

      await svc.directory.modify(TID.E, (cur) => ({ attrs: { ...cur!.attrs, kimData: [`${E},1.0`] }, certs: cur!.certs }));
      now += 30 * 60_000;
      assert.equal((await lookup.lookup(E)).komLeVersion.version, '1.5', 'still cached after 30 min');
      now += 31 * 60_000;
      assert.deepEqual((await lookup.lookup(E)).komLeVersion, { version: '1.0', large: false, appTags: [], source: 'kimData' }, 'asked again after versionCacheTtlMs, though certificates could be kept 12 h');
    } finally {
      await lookup.close();
    }
    // How kimData, komLeData and their absence are read.
    assert.deepEqual(komLeVersionOf('X@a.test', ['x@a.test,1.5+'], ['1.0,x@a.test']), { version: '1.5', large: true, appTags: [], source: 'kimData' });
    assert.deepEqual(komLeVersionOf('x@a.test', ['other@a.test,2.0'], ['1.5,X@A.test']), { version: '1.5', large: false, appTags: [], source: 'komLeData' });
    assert.deepEqual(komLeVersionOf('x@a.test', ['x@a.test,kaputt'], []), { version: '1.0', large: false, appTags: [], source: 'default' }, 'malformed values are ignored; none = 1.0');
    assert.equal(komLeVersionOf('x@a.test', ['x@a.test,1.5', 'x@a.test,1.10'], []).version, '1.10', 'the highest of several, numerically');
  });

  test('Tab_SMTP_Ant_Init: EHLO advertises SIZE ≥ 35882577, AUTH PLAIN LOGIN, 8BITMIME, ENHANCEDSTATUSCODES and DSN; a smaller clientModule.maxMessageSize is refused', async () => {
    const c = await RawSmtpClient.connect(cm.endpoints['cm-smtp']!.port);
    try {
      assert.equal((await c.readReply()).code, 220);
      const ehlo = await c.cmd('EHLO ps.test');
      assert.equal(ehlo.code, 250);
      const keywords = ehlo.lines.map((l) => l.slice(4));
      const size = keywords.find((k) => /^SIZE \d+$/.test(k));
      assert.ok(size && Number(size.slice(5)) >= 35_882_577, ehlo.text);
      for (const k of ['AUTH PLAIN LOGIN', '8BITMIME', 'ENHANCEDSTATUSCODES', 'DSN']) assert.ok(keywords.includes(k), `${k} in ${ehlo.text}`);
    } finally {
      c.close();
    }
    assert.throws(() => parseConfig({ clientModule: { maxMessageSize: 35_882_576 } }, 'f', {}), /clientModule\.maxMessageSize/);
    assert.throws(() => parseConfig({ clientModule: { directory: { versionCacheTtlMs: 24 * 3_600_000 + 1 } } }, 'f', {}), /versionCacheTtlMs/);
  });
});

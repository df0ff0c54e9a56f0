import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as tlsCreateServer } from 'node:tls';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { withoutUnauthAttrs } from '../helpers/openssl.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { poplib, bodyOf } from '../helpers/poplib.js';
import { RawSmtpClient, closedPort, listenOnLoopback } from '../helpers/net.js';
import { run, python } from '../helpers/process.js';
import { envelopeOf } from '../helpers/komle.js';
import { createLogger } from '../../src/core/index.js';
import { createTestPki } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { ByteBudget, CertificateLookup, ClientModulePop3Backend, LoginPolicy, PresentedSizeCache } from '../../src/clientmodule/index.js';
import { createKonnektor } from '../../src/crypto/konnektor/index.js';
import { startService, startDirectoryFor, startClientModule, type RunningService, type RunningDirectory, type RunningClientModule } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';
import { encodeSaslPlain } from '../../src/wire/index.js';

const DOMAIN = 'praxis.kim.test';
const PRACTICES = [
  { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: `praxis-a@${DOMAIN}` },
  { id: 'praxis-b', name: 'Praxis B', telematikId: '1-20014712', email: `praxis-b@${DOMAIN}` },
  { id: 'praxis-c', name: 'Praxis C', telematikId: '1-20014713', email: `praxis-c@${DOMAIN}` },
];
const NO_CERT = `ohne-zertifikat@${DOMAIN}`;
const PASSWORD = 'demo-password-long';
const BODY = 'Sehr geehrte Kollegin,\r\nder Befund: H\u00e4moglobin 14,2 g/dl.\r\n.eine Zeile mit Punkt\r\nMit freundlichen Gr\u00fc\u00dfen\r\n';

describe('client module end to end: PS → CM → service → CM → PS', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let cm: RunningClientModule;
  let deadPort: number;
  const smtpUser = (address: string, mandant: string, port = svc.endpoints['smtp-submission']!.port) => `${address}#127.0.0.1:${port}#${mandant}#PVS#1`;
  const pop3User = (address: string, mandant: string) => `${address}#127.0.0.1:${svc.endpoints.pop3s!.port}#${mandant}#PVS#1`;
  const psTransport = (user: string) =>
    nodemailer.createTransport({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, secure: false, ignoreTLS: true, auth: { user, pass: PASSWORD } });
  const mailbox = async (address: string) => {
    const acc = await svc.accounts.get(address);
    const entries = await svc.mailboxes.list(acc.id);
    return Promise.all(entries.map((e) => svc.mailboxes.read(e)));
  };

  before(async () => {
    const pkiDir = join(d.path, 'pki');
    await createTestPki({ dir: pkiDir, practices: [...PRACTICES, { id: 'ohne', name: 'Ohne Zertifikat', telematikId: '1-20014799', email: NO_CERT }], tlsNames: ['localhost', '127.0.0.1'] });
    const card = (id: string) => ({ dir: `pki/${id}` });
    config = testConfig(d.path, {
      konnektor: {
        trustAnchors: ['pki/ca.pem'],
        mandanten: [
          { id: 'm-a', clientSystems: ['PVS'], workplaces: ['*'], smcb: card('praxis-a') },
          { id: 'm-b', clientSystems: ['PVS'], workplaces: ['*'], smcb: card('praxis-b') },
          { id: 'm-c', clientSystems: ['PVS'], workplaces: ['*'], smcb: card('praxis-c') },
          { id: 'm-x', clientSystems: ['PVS'], workplaces: ['*'], smcb: card('ohne') },
          // A's encryption key in the signature slot: its key usage allows no signing, signing fails (KOM-LE-A_2021).
          { id: 'm-nosig', clientSystems: ['PVS'], workplaces: ['*'], smcb: { signature: { cert: 'pki/praxis-a/enc.pem', key: 'pki/praxis-a/enc.key' }, encryption: { cert: 'pki/praxis-a/enc.pem', key: 'pki/praxis-a/enc.key' } } },
        ],
      },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { port: 0 } },
        pop3: { starttls: { port: 0 }, implicit: { port: 0 } },
        accounts: [
          { address: PRACTICES[0]!.email, contexts: [{ mandant: 'm-a' }, { mandant: 'm-nosig' }] },
          // B may also use C's card: the test of KOM-LE-A_2044 shows that the address, not the card, picks the key.
          { address: PRACTICES[1]!.email, contexts: [{ mandant: 'm-b' }, { mandant: 'm-c' }] },
          { address: PRACTICES[2]!.email, contexts: [{ mandant: 'm-c' }] },
          { address: NO_CERT, contexts: [{ mandant: 'm-x' }] },
        ],
      },
    });
    const logger = createLogger('silent');
    svc = await startService(config, logger);
    await svc.accounts.addDomain(DOMAIN);
    for (const p of PRACTICES) await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
    await svc.accounts.add({ address: NO_CERT, password: PASSWORD, displayName: 'Ohne', telematikId: '1-20014799' });
    for (const p of PRACTICES) for (const der of certificatesFrom(readFileSync(join(pkiDir, p.id, 'enc.pem')))) await svc.directory.addCertificate(p.telematikId, der);
    dir = await startDirectoryFor(svc, config, logger);
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    // The service, and a port where nothing listens (the 454 test): the only providers.
    deadPort = await closedPort();
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port, deadPort] }];
    cm = await startClientModule(config, logger, { tls: svc.tls });
  });
  after(async () => {
    await cm?.close(1000);
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2003 (nodemailer and poplib as the PS), KOM-LE-A_2006, KOM-LE-A_2011 and KOM-LE-A_2012 (MTA, port and login from the user name), KOM-LE-A_2019, KOM-LE-A_2023, KOM-LE-A_2074 (implicit TLS upstream), A_19367, KOM-LE-A_2031 (USER/PASS), KOM-LE-A_2033-01 and KOM-LE-A_2034 (POP3 server and login from the user name), KOM-LE-A_2040 (LIST = RETR size), KOM-LE-A_2042
  test('A sends to B and C: the service stores only ciphertext that OpenSSL opens with B\'s key; B fetches the original with poplib', async () => {
    const t = psTransport(smtpUser(PRACTICES[0]!.email, 'm-a'));
    // Raw bytes, so that "byte for byte" means exactly what the PS wrote (8-bit, a leading dot).
    const psMessage = Buffer.from(
      `From: ${PRACTICES[0]!.email}\r\nTo: ${PRACTICES[1]!.email}, ${PRACTICES[2]!.email}\r\nSubject: Befund\r\n` +
        `Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <befund-1@pvs.test>\r\nX-KIM-Dienstkennung: Arztbrief;VHitG-Versand;V1.2\r\n` +
        `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
        BODY,
      'utf8',
    );
    const info = await t.sendMail({ envelope: { from: PRACTICES[0]!.email, to: [PRACTICES[1]!.email, PRACTICES[2]!.email] }, raw: psMessage });
    t.close();
    assert.match(info.response, /^250 /);
    const stored = await mailbox(PRACTICES[1]!.email);
    assert.equal(stored.length, 1);
    const raw = stored[0]!;
    for (const plain of ['Befund', 'moglobin', 'Kollegin', 'Befund M']) assert.ok(!raw.includes(plain), `plaintext "${plain}" must not be stored`);
    assert.match(raw.toString('latin1'), /^Subject: KOM-LE-Nachricht\r$/m);
    assert.match(raw.toString('latin1'), /^X-KOM-LE-Version: 1\.0\r$/m, 'no KAS content: 1.0 (KOM-LE-A_2100-02)');
    assert.match(raw.toString('latin1'), /^X-KIM-Dienstkennung: Arztbrief;VHitG-Versand;V1\.2\r$/im);
    assert.equal((await mailbox(PRACTICES[2]!.email)).length, 1, 'C got it too');

    writeFileSync(join(d.path, 'env.der'), withoutUnauthAttrs(envelopeOf(raw)));
    const pb = join(d.path, 'pki', 'praxis-b');
    const { stdout } = await run('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', join(d.path, 'env.der'), '-recip', join(pb, 'enc.pem'), '-inkey', join(pb, 'enc.key')], { encoding: 'latin1', check: true });
    assert.match(stdout, /smime-type=signed-data/);

    const r = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(PRACTICES[1]!.email, 'm-b'), PASSWORD, [['list'], ['retr', 1], ['quit']]);
    const listed = Number(String((r.results[0] as string[])[0]).split(' ')[1]);
    const msg = bodyOf(r.results[1]);
    assert.equal(msg.length, listed, 'LIST announces exactly what RETR delivers');
    const text = msg.toString('utf8');
    assert.match(text, /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match(text, /^X-KIM-IntegrityCheckResult: 01\r$/m);
    assert.match(text, /^Subject: Befund\r$/m);
    assert.match(text, /^Message-ID: <befund-1@pvs\.test>\r$/m);
    assert.match(text, /^Return-Path: /m);
    assert.match(text, /Die Nachricht wurde entschl\u00fcsselt\./);
    // The PS's header and body arrive byte for byte; the note follows the body.
    const at = msg.indexOf(psMessage);
    assert.ok(at > 0, 'the PS message is inside, unchanged');
    assert.match(msg.subarray(at + psMessage.length).toString('utf8'), /^-{45}\r\nDie Nachricht wurde entschl\u00fcsselt\.\r\nDie Signatur wurde erfolgreich gepr\u00fcft\.\r\n$/);
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2176 as the FAQ changed it (RCPT accepted, checked after DATA, dropped instead of 550), KOM-LE-A_2024-01 (DSN to the sender, nothing sent to the dropped recipient)
  // Primaersystem.adoc "Verwendung von Zustellbestätigungen": the PS asks with NOTIFY (RFC 3461), the client module passes it on, the Fachdienst reports (faq.adoc, KOM-LE-A_2147).
  test('NOTIFY=SUCCESS from the PS (smtplib) goes through the client module; the service files a success DSN for A naming B, In-Reply-To the message', async () => {
    const before = (await mailbox(PRACTICES[0]!.email)).length;
    const sent = await python<Record<string, unknown>>(
      String.raw`
import smtplib, sys, json
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)
s.login(sys.argv[2], sys.argv[3])
msg = 'From: %s\r\nTo: %s\r\nSubject: Zustellbestaetigung\r\nMessage-ID: <notify-1@pvs.test>\r\n\r\nBefund\r\n' % (sys.argv[4], sys.argv[5])
r = s.sendmail(sys.argv[4], [sys.argv[5]], msg, rcpt_options=['NOTIFY=SUCCESS'])
s.quit()
print(json.dumps(r))
`,
      [cm.endpoints['cm-smtp']!.port, smtpUser(PRACTICES[0]!.email, 'm-a'), PASSWORD, PRACTICES[0]!.email, PRACTICES[1]!.email],
    );
    assert.deepEqual(sent, {});
    const got = (await mailbox(PRACTICES[0]!.email)).slice(before).map((m) => m.toString('utf8'));
    const dsn = got.find((m) => m.includes('report-type=delivery-status'));
    assert.ok(dsn, 'a success DSN in A\'s mailbox');
    assert.match(dsn, new RegExp(`Final-Recipient: rfc822; ${PRACTICES[1]!.email.replace(/[.]/g, '\\.')}\\r\\nAction: delivered\\r\\nStatus: 2\\.0\\.0`));
    assert.match(dsn, /\r\nIn-Reply-To: <notify-1@pvs\.test>\r\n/);
  });

  test('a recipient without a certificate is dropped with a DSN to the sender; the others receive', async () => {
    const before = (await mailbox(PRACTICES[1]!.email)).length;
    const t = psTransport(smtpUser(PRACTICES[0]!.email, 'm-a'));
    const info = await t.sendMail({ from: PRACTICES[0]!.email, to: [PRACTICES[1]!.email, NO_CERT], subject: 'Teilweise', text: 'Hallo\r\n' });
    t.close();
    assert.match(info.response, /^250 .*1 dropped/);
    assert.equal((await mailbox(PRACTICES[1]!.email)).length, before + 1);
    assert.equal((await mailbox(NO_CERT)).length, 0, 'nothing unencrypted goes to the recipient without a certificate');
    const own = await mailbox(PRACTICES[0]!.email);
    // The client module's DSN (its failure report), not a success DSN of the service's.
    const dsn = own.map((m) => m.toString('utf8')).find((m) => /multipart\/report; report-type=delivery-status/.test(m) && !/Action: delivered/.test(m));
    assert.ok(dsn, 'the sender got a DSN');
    assert.match(dsn, new RegExp(`Final-Recipient: rfc822; ${NO_CERT}`));
    assert.match(dsn, /Action: failed/);
    assert.ok(!dsn.includes('Hallo'), 'the DSN carries no body');
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2025 (451 when nobody can be encrypted for), KOM-LE-A_2022 (the FAQ's 553 for a sender without an ENC certificate)
  test('a sender without a certificate gets 553; nobody encryptable gives 451', async () => {
    const t = psTransport(smtpUser(NO_CERT, 'm-x'));
    await assert.rejects(t.sendMail({ from: NO_CERT, to: [PRACTICES[1]!.email], subject: 'x', text: 'x' }), (e: { responseCode?: number; response?: string }) => e.responseCode === 553 && /5\.7\.1/.test(e.response ?? ''));
    t.close();
    const t2 = psTransport(smtpUser(PRACTICES[0]!.email, 'm-a'));
    await assert.rejects(t2.sendMail({ from: PRACTICES[0]!.email, to: [NO_CERT], subject: 'x', text: 'x' }), (e: { responseCode?: number }) => e.responseCode === 451);
    t2.close();
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2008 (AUTH PLAIN LOGIN in EHLO, 530 5.7.0 before AUTH), KOM-LE-A_2009, KOM-LE-A_2015-01 (501, 454, 535, 504), A_21519-02 (incomplete user name: 501 5.5.4)
  test('AUTH: malformed user name 501 5.5.4, unreachable service 454 4.7.0, wrong password 535 5.7.8, other mechanisms 504, MAIL before AUTH 530', async () => {
    const c = await RawSmtpClient.connect(cm.endpoints['cm-smtp']!.port);
    assert.equal((await c.readReply()).code, 220);
    const ehlo = await c.cmd('EHLO ps.test');
    assert.ok(ehlo.lines.some((l) => /AUTH PLAIN LOGIN/.test(l)), ehlo.text);
    const mail = await c.cmd(`MAIL FROM:<${PRACTICES[0]!.email}>`);
    assert.equal(mail.code, 530);
    assert.match(mail.text, /5\.7\.0/);
    const bad = await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: `${PRACTICES[0]!.email}#127.0.0.1`, password: PASSWORD })}`);
    assert.equal(bad.code, 501);
    assert.match(bad.text, /5\.5\.4 .*port/);
    const down = await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: smtpUser(PRACTICES[0]!.email, 'm-a', deadPort), password: PASSWORD })}`);
    assert.equal(down.code, 454);
    assert.match(down.text, /4\.7\.0/);
    const wrong = await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: smtpUser(PRACTICES[0]!.email, 'm-a'), password: 'wrong-password' })}`);
    assert.equal(wrong.code, 535);
    assert.match(wrong.text, /5\.7\.8/);
    const cram = await c.cmd('AUTH CRAM-MD5');
    assert.equal(cram.code, 504);
    assert.match(cram.text, /5\.7\.4/);
    c.close();
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2023 ((mail=…) lookups of ENC certificates in the directory)
  test('certificate lookups: many at once on a fresh lookup (no connection yet) all answer', async () => {
    const lookup = new CertificateLookup(
      { url: config.clientModule.directory.url, baseDn: 'dc=data,dc=vzd', startTls: false, cacheTtlMs: 0, negativeCacheTtlMs: 0, timeoutMs: 5000, maxCacheEntries: 10 },
      createLogger('silent'),
    );
    try {
      const addresses = [...PRACTICES.map((p) => p.email), NO_CERT, 'nobody@praxis.kim.test'];
      const found = await Promise.all(addresses.flatMap((a) => [a, a, a]).map((a) => lookup.encryptionCertificates(a)));
      assert.deepEqual(found.map((c) => c.length), addresses.flatMap((a) => (PRACTICES.some((p) => p.email === a) ? [1, 1, 1] : [0, 0, 0])));
    } finally {
      await lookup.close();
    }
  });

  // Requirements: gemSpec_CM_KOMLE: A_21518-02 and KOM-LE-A_2037-01 (-ERR for an incomplete POP3 user name), KOM-LE-A_2046 (failure message: multipart/mixed with the original as message/rfc822)
  test('POP3: a malformed user name is refused naming what is missing; a tampered message becomes the failure message', async () => {
    const bad = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', `${PRACTICES[1]!.email}#127.0.0.1`, PASSWORD, [['stat']]).catch((e: Error) => e);
    assert.ok(bad instanceof Error && /port/.test(bad.message), String(bad));

    // Take a sealed message, flip one byte of the ciphertext, and deliver that to C over the MX.
    const original = (await mailbox(PRACTICES[2]!.email))[0]!.toString('latin1');
    const split = original.indexOf('\r\n\r\n') + 4;
    const headers = original.slice(0, split).split('\r\n').filter((l) => !/^(Return-Path|Received|\s)/.test(l)).join('\r\n');
    const env = envelopeOf(Buffer.from(original, 'latin1'));
    env[Math.floor(env.length / 2)]! ^= 0x01; // inside the GCM ciphertext
    const tampered = headers + '\r\n' + env.toString('base64').replace(/.{76}/g, '$&\r\n') + '\r\n';
    const mx = nodemailer.createTransport({ host: '127.0.0.1', port: svc.endpoints['smtp-mx']!.port, secure: false, ignoreTLS: true });
    await mx.sendMail({ envelope: { from: PRACTICES[0]!.email, to: [PRACTICES[2]!.email] }, raw: tampered });
    mx.close();
    const r = await poplib(cm.endpoints['cm-pop3s']!.port, 'implicit', pop3User(PRACTICES[2]!.email, 'm-c'), PASSWORD, [['retr', 1], ['retr', 2], ['quit']]);
    assert.match(bodyOf(r.results[0]).toString('utf8'), /^X-KIM-DecryptionResult: 00\r$/m, 'the untouched one opens');
    const failed = bodyOf(r.results[1]).toString('utf8');
    // KOM-LE-A_2046: a flipped ciphertext byte fails AES-GCM's tag (vendor code X01, 4014).
    assert.match(failed, /^X-KIM-DecryptionResult: X01\r$/m);
    assert.match(failed, /^X-KIM-Fehlermeldung: 4014\r$/m);
    assert.match(failed, /multipart\/mixed/);
    assert.match(failed, /message\/rfc822/);
  });
  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2005 (decrypted copies held in memory only until fetched), KOM-LE-A_2094 (several PS sessions at once)
  test('POP3: decrypted messages kept for RETR stay within one budget for all sessions and are let go once fetched', async () => {
    const t = psTransport(smtpUser(PRACTICES[0]!.email, 'm-a'));
    for (let i = 0; i < 3; i++) await t.sendMail({ from: PRACTICES[0]!.email, to: [PRACTICES[2]!.email], subject: `Budget ${i}`, text: 'x'.repeat(20_000) });
    t.close();
    const konnektor = createKonnektor(config.konnektor, config.dataDir);
    const budget = new ByteBudget(60_000); // room for about two of the presented messages, for both sessions together
    const backend = new ClientModulePop3Backend({
      konnektor,
      policy: new LoginPolicy(config.clientModule.accounts, config.clientModule.providers),
      upstream: { ca: [svc.tls.cert], rejectUnauthorized: true, timeoutMs: 10_000 },
      appendNote: true,
      sessionCacheBytes: 1 << 30,
      cacheBudget: budget,
      sizeCache: new PresentedSizeCache(0), // every login decrypts everything again
      maxMessageSize: 10 << 20,
      logger: createLogger('silent'),
    });
    const login = async () => {
      const r = await backend.login({ user: pop3User(PRACTICES[2]!.email, 'm-c'), password: PASSWORD, remoteAddress: '127.0.0.1', secure: false });
      assert.ok(r.ok, 'logged in');
      return r.maildrop;
    };
    try {
      const [one, two] = [await login(), await login()];
      assert.ok(one.messages.length >= 3 && one.messages.length === two.messages.length);
      assert.ok(budget.inUse > 0 && budget.inUse <= budget.limit, `kept ${budget.inUse} of ${budget.limit} bytes`);
      for (const drop of [one, two]) {
        for (let i = 0; i < drop.messages.length; i++) {
          const before = budget.inUse;
          const m = await drop.retrieve(i);
          assert.equal(m.length, drop.messages[i]!.size, `message ${i}: RETR delivers what LIST announced, kept or decrypted again`);
          if (/^Subject: Budget /m.test(m.toString('latin1'))) assert.match(m.toString('latin1'), /^X-KIM-DecryptionResult: 00\r$/m);
          assert.ok(budget.inUse <= before, 'a fetch never takes more');
        }
      }
      assert.equal(budget.inUse, 0, 'everything kept was handed out and let go');
      await one.release();
      await two.release();
      assert.equal(budget.inUse, 0);
      // A session that ends before fetching gives its share back.
      const three = await login();
      assert.ok(budget.inUse > 0);
      await three.release();
      assert.equal(budget.inUse, 0, 'released with the session');
    } finally {
      await konnektor.close?.();
    }
  });
  test('POP3: an upstream that breaks while a login works out the sizes (several messages in flight) is "unavailable", and nothing is left unhandled', async () => {
    // A service that lists five messages, answers the first RETR, and drops the connection at the second.
    const raw = (await mailbox(PRACTICES[1]!.email))[0]!;
    const fake = tlsCreateServer({ cert: svc.tls.cert, key: svc.tls.key }, (sock) => {
      sock.write('+OK fake\r\n');
      let buf = '';
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let i; (i = buf.indexOf('\r\n')) >= 0; ) {
          const cmd = buf.slice(0, i).toUpperCase();
          buf = buf.slice(i + 2);
          if (cmd.startsWith('UIDL')) sock.write('+OK\r\n1 a\r\n2 b\r\n3 c\r\n4 d\r\n5 e\r\n.\r\n');
          else if (cmd.startsWith('LIST')) sock.write(`+OK\r\n${[1, 2, 3, 4, 5].map((n) => `${n} ${raw.length}`).join('\r\n')}\r\n.\r\n`);
          else if (cmd === 'RETR 1') sock.write(Buffer.concat([Buffer.from('+OK\r\n'), raw, Buffer.from('.\r\n')]));
          else if (cmd.startsWith('RETR')) sock.destroy();
          else sock.write('+OK\r\n');
        }
      });
      sock.on('error', () => undefined);
    });
    const port = await listenOnLoopback(fake);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const konnektor = createKonnektor(config.konnektor, config.dataDir);
    try {
      const backend = new ClientModulePop3Backend({
        konnektor,
        policy: new LoginPolicy(config.clientModule.accounts, [{ host: '127.0.0.1', ports: [port] }]),
        upstream: { ca: [svc.tls.cert], rejectUnauthorized: true, timeoutMs: 5_000 },
        appendNote: true,
        sessionCacheBytes: 1 << 20,
        cacheBudget: new ByteBudget(1 << 20),
        sizeCache: new PresentedSizeCache(100),
        maxMessageSize: 10 << 20,
        logger: createLogger('silent'),
      });
      const r = await backend.login({ user: `${PRACTICES[1]!.email}#127.0.0.1:${port}#m-b#PVS#1`, password: PASSWORD, remoteAddress: '127.0.0.1', secure: false });
      assert.deepEqual(r, { ok: false, reason: 'unavailable', message: 'the mailbox could not be read, try again later' });
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, [], 'the messages still in flight failed quietly');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await konnektor.close?.();
      fake.close();
    }
  });
  test('KOM-LE-A_2179-01 / KOM-LE-A_2050-05 end to end: multipart/mixed with text and HTML alternatives and a PDF — both alternatives get the Vermerke, the PDF arrives byte for byte', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) & 0xff)), Buffer.from('\n%%EOF\n')]);
    const pdfPart = `Content-Type: application/pdf; name="Arztbrief.pdf"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="Arztbrief.pdf"\r\n\r\n${pdf.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`;
    const psMessage = Buffer.from(
      `From: ${PRACTICES[0]!.email}\r\nTo: ${PRACTICES[1]!.email}\r\nSubject: Arztbrief\r\nDate: Mon, 23 Nov 2026 11:00:00 +0100\r\nMessage-ID: <brief-2@pvs.test>\r\n` +
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="aussen"\r\n\r\n' +
        '--aussen\r\nContent-Type: multipart/alternative; boundary="innen"\r\n\r\n' +
        '--innen\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSehr geehrte Frau Dr. M=FCller,\r\nanbei der Brief.\r\n' +
        '--innen\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Sehr geehrte Frau Dr. M&uuml;ller,</p><p>anbei der Brief.</p></body></html>\r\n' +
        '--innen--\r\n' +
        `--aussen\r\n${pdfPart}--aussen--\r\n`,
      'latin1',
    );
    const t = psTransport(smtpUser(PRACTICES[0]!.email, 'm-a'));
    await t.sendMail({ envelope: { from: PRACTICES[0]!.email, to: [PRACTICES[1]!.email] }, raw: psMessage });
    t.close();
    const r = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(PRACTICES[1]!.email, 'm-b'), PASSWORD, [['list'], ['quit']]);
    const count = (r.results[0] as string[]).length;
    const fetched = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(PRACTICES[1]!.email, 'm-b'), PASSWORD, [['retr', count], ['quit']]);
    const msg = bodyOf(fetched.results[0]);
    const text = msg.toString('latin1');
    assert.match(text, /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match(text, /^X-KIM-IntegrityCheckResult: 01\r$/m);
    assert.match(text, /^Subject: Arztbrief\r$/m);
    assert.ok(msg.includes(Buffer.from(`--aussen\r\n${pdfPart}--aussen--\r\n`, 'latin1')), 'the PDF part and the closing boundary, byte for byte');
    assert.match(text, /anbei der Brief\.\r\n-{45}\r\nDie Nachricht wurde entschl=FCsselt\.\r\nDie Signatur wurde erfolgreich gepr=FCft\.\r\n--innen\r\n/, 'quoted-printable ISO-8859-1 text');
    assert.match(text, /<hr>\r\n<p>Die Nachricht wurde entschl&#252;sselt\.<br>\r\nDie Signatur wurde erfolgreich gepr&#252;ft\.<\/p>\r\n<\/body><\/html>/, 'HTML before </body>');
    const parsed = await simpleParser(msg);
    assert.equal(parsed.attachments.length, 1);
    assert.ok(parsed.attachments[0]!.content.equals(pdf));
    assert.match(parsed.text ?? '', /Die Nachricht wurde entschlüsselt\./);
  });
  test("KOM-LE-A_2044 / KOM-LE-A_2043 / KOM-LE-A_2045: the POP3 user name's address picks the key — B's mail fetched through C's card is not decrypted, though C's key could", async () => {
    // The first test's message went to B and C: B's mailbox holds it, encrypted for A, B and C.
    const r = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(PRACTICES[1]!.email, 'm-c'), PASSWORD, [['retr', 1], ['quit']]);
    const text = bodyOf(r.results[0]).toString('utf8');
    assert.match(text, /^X-KIM-DecryptionResult: 01\r$/m);
    assert.match(text, /^X-KIM-Fehlermeldung: 4009\r$/m);
    assert.match(text, /^Subject: =\?utf-8\?Q\?Die_Nachricht_konnte_nicht_entschl=C3=BCsselt_werden\?=\r$/m);
    assert.match(text, /praxis-b@praxis\.kim\.test\) weiter/, "the fetching user's address in the table's text");
    // The same login with B's own card opens it.
    const own = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(PRACTICES[1]!.email, 'm-b'), PASSWORD, [['retr', 1], ['quit']]);
    assert.match(bodyOf(own.results[0]).toString('utf8'), /^X-KIM-DecryptionResult: 00\r$/m);
  });
  test('KOM-LE-A_2021: a message that cannot be signed (the card\'s key may not sign) gets 451 and nothing goes upstream', async () => {
    const before = (await mailbox(PRACTICES[1]!.email)).length;
    const t = psTransport(smtpUser(PRACTICES[0]!.email, 'm-nosig'));
    const raw = Buffer.from(`From: ${PRACTICES[0]!.email}\r\nTo: ${PRACTICES[1]!.email}\r\nSubject: x\r\nMessage-ID: <nosig@pvs.test>\r\n\r\nText\r\n`);
    const err = await t.sendMail({ envelope: { from: PRACTICES[0]!.email, to: [PRACTICES[1]!.email] }, raw }).catch((e: Error & { responseCode?: number; response?: string }) => e);
    t.close();
    assert.ok(err instanceof Error, 'refused');
    assert.equal((err as { responseCode?: number }).responseCode, 451);
    assert.match(String((err as { response?: string }).response), /^451 4\.7\.0 .*sign/);
    assert.equal((await mailbox(PRACTICES[1]!.email)).length, before, 'nothing was delivered');
  });
});

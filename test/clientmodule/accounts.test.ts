import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { poplib } from '../helpers/poplib.js';
import { python } from '../helpers/process.js';
import { closedPort, listenOnLoopback } from '../helpers/net.js';
import { until } from '../helpers/wait.js';
import { Metrics, createLogger } from '../../src/core/index.js';
import { createKonnektor, createTestPki, type Konnektor } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { SmtpClient, SmtpClientError } from '../../src/smtp/index.js';
import { Pop3Client, Pop3ClientError } from '../../src/pop3/index.js';
import { startService, startDirectoryFor, startClientModule, type RunningService, type RunningDirectory, type RunningClientModule } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';

// Each account may use only the call contexts configured for it (clientModule.accounts): the
// password proves only the address, at the mail service, so a practice that names another
// practice's Mandant in its user name would otherwise sign with that practice's card. And a
// user name may point only at a configured mail service (clientModule.providers), or the
// client module is a port scanner. Real service, directory and Konnektor; the primary system
// is played by our SMTP and POP3 clients, Python's smtplib and poplib, and nodemailer.

const DOMAIN = 'konten.kim.test';
const A = `praxis-a@${DOMAIN}`;
const B = `praxis-b@${DOMAIN}`;
const C = `praxis-c@${DOMAIN}`;
const UNKNOWN = `fremd@${DOMAIN}`;
const PASSWORD = 'accounts-test-password';
const PRACTICES = [
  { id: 'praxis-a', name: 'Praxis A', telematikId: '1-40000001', email: A },
  { id: 'praxis-b', name: 'Praxis B', telematikId: '1-40000002', email: B },
  { id: 'praxis-c', name: 'Praxis C', telematikId: '1-40000003', email: C },
];

const SMTPLIB = String.raw`
import smtplib, sys, json
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
s.ehlo('ps.test')
try:
    code, text = s.login(user, pw)
except smtplib.SMTPAuthenticationError as e:
    code, text = e.smtp_code, e.smtp_error
print(json.dumps({'code': code, 'text': text.decode()}))
s.quit()
`;

interface Login {
  address: string;
  mandant: string;
  clientSystem: string;
  workplace: string;
  userId?: string;
}

/** Who logs in with which context, and what the log line must say for a refusal. */
const CASES: Array<{ name: string; login: Login; refused?: 'unknown account' | 'context not allowed' }> = [
  { name: "A with A's context", login: { address: A, mandant: 'm-a', clientSystem: 'PVS', workplace: '1' } },
  { name: "A with A's second workplace", login: { address: A, mandant: 'm-a', clientSystem: 'PVS', workplace: '2' } },
  { name: 'A, address in upper case', login: { address: A.toUpperCase(), mandant: 'm-a', clientSystem: 'PVS', workplace: '1' } },
  { name: "A with B's Mandant", login: { address: A, mandant: 'm-b', clientSystem: 'PVS', workplace: '1' }, refused: 'context not allowed' },
  { name: "A with A's Mandant and a client system not A's", login: { address: A, mandant: 'm-a', clientSystem: 'KIS', workplace: '1' }, refused: 'context not allowed' },
  { name: "A with A's Mandant and a workplace not A's", login: { address: A, mandant: 'm-a', clientSystem: 'PVS', workplace: '3' }, refused: 'context not allowed' },
  { name: "A with A's Mandant and B's client system and workplace", login: { address: A, mandant: 'm-a', clientSystem: 'KIS', workplace: '9' }, refused: 'context not allowed' },
  { name: "B with B's context (any workplace)", login: { address: B, mandant: 'm-b', clientSystem: 'KIS', workplace: '9' } },
  { name: "B with A's Mandant (B's own client system and workplace)", login: { address: B, mandant: 'm-a', clientSystem: 'KIS', workplace: '9' }, refused: 'context not allowed' },
  { name: "B with A's whole context", login: { address: B, mandant: 'm-a', clientSystem: 'PVS', workplace: '1' }, refused: 'context not allowed' },
  { name: 'an unknown account with A\'s context', login: { address: UNKNOWN, mandant: 'm-a', clientSystem: 'PVS', workplace: '1' }, refused: 'unknown account' },
];

const NOT_CONFIGURED = /^this client module is not configured for \S+ with Mandant \S+, client system \S+, workplace \S+/;

describe('client module: each account only its own call contexts, only configured mail services (clientModule.accounts, clientModule.providers)', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let cm: RunningClientModule;
  let konnektor: Konnektor;
  const konnektorCalls: string[] = [];
  const log: string[] = [];
  const cmMetrics = new Metrics();
  const authFailures = () => cmMetrics.value('postamt_smtp_auth_failures_total', { listener: 'cm-smtp' });

  const hostPort = (listener: 'smtp-submission' | 'pop3s') => `127.0.0.1:${svc.endpoints[listener]!.port}`;
  const smtpUser = (l: Login) => `${l.address}#${hostPort('smtp-submission')}#${l.mandant}#${l.clientSystem}#${l.workplace}`;
  const pop3User = (l: Login) => `${l.address}#${hostPort('pop3s')}#${l.mandant}#${l.clientSystem}#${l.workplace}${l.userId ? `#${l.userId}` : ''}`;
  /** Connections the service has accepted so far: a refused login must not open one. */
  const upstreamConnections = () => svc.metrics.value('postamt_smtp_connections_total', { listener: 'smtp-submission' }) + svc.metrics.value('postamt_pop3_connections_total', { listener: 'pop3s' });
  const refusalLogged = (l: Login, why: string) =>
    until(`log line "${why}" for ${l.address}`, () =>
      log.map((x) => JSON.parse(x) as Record<string, unknown>).find((x) => x.msg === 'client module login refused' && x.address === l.address && x.mandant === l.mandant && x.workplace === l.workplace && x.why === why),
    );
  const mailbox = async (address: string) => {
    const acc = await svc.accounts.get(address);
    return Promise.all((await svc.mailboxes.list(acc.id)).map((e) => svc.mailboxes.read(e)));
  };

  before(async () => {
    const pkiDir = join(d.path, 'pki');
    await createTestPki({ dir: pkiDir, practices: PRACTICES, tlsNames: ['localhost', '127.0.0.1'] });
    config = testConfig(d.path, {
      service: { loginThrottle: { freeFailures: 10_000 } },
      konnektor: {
        trustAnchors: ['pki/ca.pem'],
        // The Konnektor lets every client system and workplace use either card: only the accounts decide here.
        mandanten: PRACTICES.map((p) => ({ id: `m-${p.id.slice(-1)}`, clientSystems: ['PVS', 'KIS'], workplaces: ['*'], smcb: { dir: `pki/${p.id}` } })),
      },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { enabled: false } },
        pop3: { starttls: { port: 0 }, implicit: { enabled: false } },
        accounts: [
          { address: A, contexts: [{ mandant: 'm-a', clientSystems: ['PVS'], workplaces: ['1', '2'], users: ['arzt-1'] }] },
          { address: B, contexts: [{ mandant: 'm-b' }] },
          { address: C, contexts: [{ mandant: 'm-c' }] },
        ],
      },
    });
    const silent = createLogger('silent');
    svc = await startService(config, silent);
    await svc.accounts.addDomain(DOMAIN);
    for (const p of PRACTICES) {
      await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
      for (const der of certificatesFrom(readFileSync(join(pkiDir, p.id, 'enc.pem')))) await svc.directory.addCertificate(p.telematikId, der);
    }
    await svc.accounts.add({ address: UNKNOWN, password: PASSWORD, displayName: 'Fremd', telematikId: '1-40000099' });
    dir = await startDirectoryFor(svc, config, silent);
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
    // The real Konnektor, with every call noted: a refused login must not reach it.
    const real = createKonnektor(config.konnektor, config.dataDir);
    konnektor = new Proxy(real, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function' || prop === 'close') return v;
        return (...args: unknown[]) => {
          konnektorCalls.push(String(prop));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    cm = await startClientModule(config, createLogger('info', logStream), { tls: svc.tls, konnektor, metrics: cmMetrics });
  });
  after(async () => {
    await cm?.close(1000);
    await konnektor?.close?.();
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  for (const c of CASES) {
    // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2010 (the call context from the user name, used only as configured), KOM-LE-A_2015-01 (535 5.7.8), KOM-LE-A_2052 (the sender's own context)
    test(`SMTP, our client and smtplib: ${c.name} → ${c.refused ? '535 5.7.8, no upstream connection, no Konnektor call' : '235'}`, async () => {
      const upstreamBefore = upstreamConnections();
      const callsBefore = konnektorCalls.length;
      const failuresBefore = authFailures();
      const client = await SmtpClient.connect({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, tls: 'none', clientName: 'ps.test', timeoutMs: 10_000 });
      try {
        const err = await client.login(smtpUser(c.login), PASSWORD).then(() => null, (e: unknown) => e);
        const py = await python<{ code: number; text: string }>(SMTPLIB, [cm.endpoints['cm-smtp']!.port, smtpUser(c.login), PASSWORD]);
        if (!c.refused) {
          assert.equal(err, null, String(err));
          assert.equal(py.code, 235, py.text);
          return;
        }
        assert.ok(err instanceof SmtpClientError && err.kind === 'rejected', String(err));
        assert.equal(err.reply?.code, 535);
        const text = err.reply!.lines.join(' ');
        assert.match(text, /^5\.7\.8 /);
        assert.match(text.slice(6), NOT_CONFIGURED);
        assert.equal(py.code, 535);
        assert.equal(py.text, text, 'smtplib sees the same answer');
        // Counted (and so delayed and throttled) like a wrong password: smtplib tries PLAIN, then LOGIN.
        assert.equal(authFailures(), failuresBefore + 3);
        await refusalLogged(c.login, c.refused);
        assert.equal(upstreamConnections(), upstreamBefore, 'no connection to the mail service');
        assert.deepEqual(konnektorCalls.slice(callsBefore), [], 'no Konnektor call');
      } finally {
        await client.quit().catch(() => undefined);
      }
    });

    // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2032 (the call context from the user name, used only as configured), KOM-LE-A_2037-01 (-ERR)
    test(`POP3, our client and poplib: ${c.name} → ${c.refused ? '-ERR [AUTH], no upstream connection, no Konnektor call' : '+OK'}`, async () => {
      const upstreamBefore = upstreamConnections();
      const callsBefore = konnektorCalls.length;
      const client = await Pop3Client.connect({ host: '127.0.0.1', port: cm.endpoints['cm-pop3']!.port, tls: 'none', timeoutMs: 10_000 });
      try {
        const err = await client.login(pop3User(c.login), PASSWORD).then(() => null, (e: unknown) => e);
        const py = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(c.login), PASSWORD, [['stat'], ['quit']]).then(
          () => null,
          (e: Error) => e,
        );
        if (!c.refused) {
          assert.equal(err, null, String(err));
          assert.equal(py, null, String(py));
          return;
        }
        assert.ok(err instanceof Pop3ClientError && err.kind === 'rejected', String(err));
        assert.match(err.serverText ?? '', /^\[AUTH\] /);
        assert.match((err.serverText ?? '').slice(7), NOT_CONFIGURED);
        assert.ok(py instanceof Error && py.message.includes(`-ERR ${err.serverText}`), String(py));
        await refusalLogged(c.login, c.refused);
        assert.equal(upstreamConnections(), upstreamBefore, 'no connection to the mail service');
        assert.deepEqual(konnektorCalls.slice(callsBefore), [], 'no Konnektor call');
      } finally {
        await client.quit().catch(() => undefined);
        client.close();
      }
    });
  }

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2032 (UserId as part of the configured context)
  test("POP3: a UserId (a doctor's HBA) outside the account's list is refused; one inside passes the policy", async () => {
    const other: Login = { address: A, mandant: 'm-a', clientSystem: 'PVS', workplace: '1', userId: 'arzt-2' };
    const r = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(other), PASSWORD, [['stat']]).catch((e: Error) => e);
    assert.ok(r instanceof Error && /-ERR \[AUTH\] this client module is not configured for .* user arzt-2/.test(r.message), String(r));
    await refusalLogged(other, 'context not allowed');
    // arzt-1 has no HBA in this Konnektor: the login goes on (its messages would become failure messages).
    const own = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User({ ...other, userId: 'arzt-1' }), PASSWORD, [['stat'], ['quit']]);
    assert.equal(own.results.length, 2);
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2052 (signed with the sender's own SM-B), KOM-LE-A_2048-01 (what the recipient's signer-sender check relies on)
  test("signing as B: A's password with B's Mandant and From B is refused at AUTH; A's own context with From or Sender B is refused after DATA; nothing reaches C", async () => {
    const cmPort = cm.endpoints['cm-smtp']!.port;
    const raw = (from: string, extra = '') => Buffer.from(`From: ${from}\r\n${extra}To: ${C}\r\nSubject: Rezept\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@pvs.test>\r\n\r\nText\r\n`);
    const transport = (l: Login) => nodemailer.createTransport({ host: '127.0.0.1', port: cmPort, secure: false, ignoreTLS: true, auth: { user: smtpUser(l), pass: PASSWORD } });
    const before = (await mailbox(C)).length;

    const asB = transport({ address: A, mandant: 'm-b', clientSystem: 'PVS', workplace: '1' });
    const refused = await asB.sendMail({ envelope: { from: A, to: [C] }, raw: raw(`Praxis B <${B}>`) }).catch((e: Error & { responseCode?: number; response?: string }) => e);
    asB.close();
    assert.ok(refused instanceof Error);
    assert.equal((refused as { responseCode?: number }).responseCode, 535);
    assert.match(String((refused as { response?: string }).response), /^535 5\.7\.8 this client module is not configured for praxis-a@konten\.kim\.test with Mandant m-b/);

    const own = transport({ address: A, mandant: 'm-a', clientSystem: 'PVS', workplace: '1' });
    try {
      for (const [what, message] of [
        ['From B', raw(`Praxis B <${B}>`)],
        ['From A and B', raw(`${A}, ${B}`)],
        ['From B as a group member', raw(`Praxen: ${B};`)],
        ['Sender B', raw(A, `Sender: ${B}\r\n`)],
        ['no From', Buffer.from(`To: ${C}\r\nSubject: x\r\n\r\nText\r\n`)],
      ] as const) {
        const e = await own.sendMail({ envelope: { from: A, to: [C] }, raw: message }).catch((x: Error & { responseCode?: number; response?: string }) => x);
        assert.ok(e instanceof Error, `${what}: refused`);
        assert.equal((e as { responseCode?: number }).responseCode, 550, what);
        assert.match(String((e as { response?: string }).response), /^550 5\.7\.1 /, what);
      }
      // MAIL FROM another address: refused before DATA (the client module and the service's submission alike).
      const mailFrom = await own.sendMail({ envelope: { from: B, to: [C] }, raw: raw(A) }).catch((x: Error & { responseCode?: number }) => x);
      assert.equal((mailFrom as { responseCode?: number }).responseCode, 553);
      assert.equal((await mailbox(C)).length, before, 'nothing was sent');
      // The same session with its own From works: the check is about the address, not the display name.
      const ok = await own.sendMail({ envelope: { from: A, to: [C] }, raw: raw(`"Praxis A (Empfang)" <${A.toUpperCase()}>`) });
      assert.match(ok.response, /^250 /);
      assert.equal((await mailbox(C)).length, before + 1);
    } finally {
      own.close();
    }
  });
  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2011 and KOM-LE-A_2033-01 (the MTA of the user name, only among clientModule.providers), KOM-LE-A_2015-01 (535 5.7.8)
  test('a user name pointing at a mail service that is not configured: one answer whatever is there (listener, closed port, unresolvable or unroutable name, IPv6), no connection, no Konnektor call', async () => {
    let dialled = 0;
    const listener = createServer((sock) => {
      dialled++;
      sock.destroy();
    });
    const open = await listenOnLoopback(listener);
    const closed = await closedPort();
    try {
      const targets = [`127.0.0.1:${open}`, `127.0.0.1:${closed}`, 'nowhere.invalid:465', `kim.invalid:${open}`, '192.0.2.1:465', `[::1]:${open}`, `[0:0::ffff:7f00:1]:${svc.endpoints['smtp-submission']!.port}`, '127.0.0.1:465'];
      const smtpAnswers = new Set<string>();
      const pop3Answers = new Set<string>();
      for (const target of targets) {
        const upstreamBefore = upstreamConnections();
        const callsBefore = konnektorCalls.length;
        const failuresBefore = authFailures();
        const started = Date.now();
        const smtp = await SmtpClient.connect({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, tls: 'none', clientName: 'ps.test', timeoutMs: 10_000 });
        const err = await smtp.login(`${A}#${target}#m-a#PVS#1`, PASSWORD).then(() => null, (e: unknown) => e);
        await smtp.quit().catch(() => undefined);
        assert.ok(err instanceof SmtpClientError && err.reply?.code === 535, `${target}: ${String(err)}`);
        smtpAnswers.add(err.reply!.lines.join(' '));
        const pop = await Pop3Client.connect({ host: '127.0.0.1', port: cm.endpoints['cm-pop3']!.port, tls: 'none', timeoutMs: 10_000 });
        const perr = await pop.login(`${A}#${target}#m-a#PVS#1`, PASSWORD).then(() => null, (e: unknown) => e);
        pop.close();
        assert.ok(perr instanceof Pop3ClientError && perr.kind === 'rejected', `${target}: ${String(perr)}`);
        pop3Answers.add(perr.serverText ?? '');
        // A dial would take the upstream timeout for 192.0.2.1 (nothing answers there), and a lookup for the names.
        assert.ok(Date.now() - started < 3_000, `${target}: answered without trying (${Date.now() - started} ms)`);
        assert.equal(authFailures(), failuresBefore + 1, `${target}: counted as a failed login`);
        assert.equal(upstreamConnections(), upstreamBefore, `${target}: no connection to the service`);
        assert.deepEqual(konnektorCalls.slice(callsBefore), [], `${target}: no Konnektor call`);
        await until(`log line for ${target}`, () =>
          log.map((x) => JSON.parse(x) as Record<string, unknown>).find((x) => x.msg === 'client module login refused' && x.why === 'provider not configured' && x.mta === target.replace(/^\[(.*)\](:\d+)$/, (_, h: string, p: string) => `${h}${p}`)),
        );
      }
      assert.deepEqual([...smtpAnswers], ['5.7.8 the mail service in the user name is not one this client module is configured for']);
      assert.deepEqual([...pop3Answers], ['[AUTH] the mail service in the user name is not one this client module is configured for']);
      assert.equal(dialled, 0, 'the listener saw no connection');
      // The same account and context at the configured service log in (control).
      const ok = await SmtpClient.connect({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, tls: 'none', clientName: 'ps.test', timeoutMs: 10_000 });
      await ok.login(`${A}#${hostPort('smtp-submission')}#m-a#PVS#1`, PASSWORD);
      await ok.quit();
    } finally {
      listener.close();
    }
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2015-01 (no difference between accounts at an unconfigured service)
  test('the provider is checked first: an unknown account at an unconfigured service gets the provider answer, not the account answer', async () => {
    const smtp = await SmtpClient.connect({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, tls: 'none', clientName: 'ps.test', timeoutMs: 10_000 });
    const err = await smtp.login(`${UNKNOWN}#127.0.0.1:465#m-z#PVS#1`, PASSWORD).then(() => null, (e: unknown) => e);
    await smtp.quit().catch(() => undefined);
    assert.ok(err instanceof SmtpClientError);
    assert.equal(err.reply?.lines.join(' '), '5.7.8 the mail service in the user name is not one this client module is configured for');
  });
});

describe('client module without clientModule.accounts and clientModule.providers', () => {
  const d = tempDir();
  let cm: RunningClientModule;
  const log: string[] = [];
  before(async () => {
    const config = testConfig(d.path, {
      clientModule: { smtp: { starttls: { port: 0 }, implicit: { enabled: false } }, pop3: { starttls: { port: 0 }, implicit: { enabled: false } } },
    });
    const logStream = new PassThrough();
    logStream.on('data', (chunk: Buffer) => log.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
    cm = await startClientModule(config, createLogger('info', logStream));
  });
  after(async () => {
    await cm?.close(0);
    d.cleanup();
  });

  test('says so at start and refuses every login (SMTP 535 5.7.8, POP3 -ERR [AUTH])', async () => {
    for (const key of ['accounts', 'providers']) {
      const warned = await until(`the start-up warning about ${key}`, () => log.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.startsWith(`clientModule.${key} is empty`)));
      assert.equal(warned.level, 40);
    }
    const user = `${`praxis-a@${DOMAIN}`}#127.0.0.1:465#m-a#PVS#1`;
    const smtp = await SmtpClient.connect({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, tls: 'none', clientName: 'ps.test', timeoutMs: 10_000 });
    const err = await smtp.login(user, PASSWORD).then(() => null, (e: unknown) => e);
    await smtp.quit().catch(() => undefined);
    assert.ok(err instanceof SmtpClientError && err.reply?.code === 535, String(err));
    assert.match(err.reply!.lines.join(' '), /^5\.7\.8 the mail service in the user name is not one this client module is configured for/);
    const pop = await Pop3Client.connect({ host: '127.0.0.1', port: cm.endpoints['cm-pop3']!.port, tls: 'none', timeoutMs: 10_000 });
    const perr = await pop.login(user, PASSWORD).then(() => null, (e: unknown) => e);
    pop.close();
    assert.ok(perr instanceof Pop3ClientError && /^\[AUTH\] the mail service in the user name is not one/.test(perr.serverText ?? ''), String(perr));
  });
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { RawSmtpClient } from '../helpers/net.js';
import { createLogger } from '../../src/core/index.js';
import { createTestPki } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { startService, startDirectoryFor, startClientModule, type RunningService, type RunningDirectory, type RunningClientModule } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';
import { encodeSaslPlain } from '../../src/wire/index.js';

// gemSpec_CM_KOMLE A_22416 (getLimits when sending, cached per account), A_19355-01 (the size
// check against maxMailSize: X.3.4), A_22417 (Expires = send time + dataTimeToLive from getLimits).

const DOMAIN = 'praxis.kim.test';
const PRACTICES = [
  { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: `praxis-a@${DOMAIN}` },
  { id: 'praxis-b', name: 'Praxis B', telematikId: '1-20014712', email: `praxis-b@${DOMAIN}` },
];
const [A, B] = [PRACTICES[0]!.email, PRACTICES[1]!.email];
const PASSWORD = 'demo-password-long';

describe('the client module asks getLimits at the service', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let cm: RunningClientModule;
  const smtpUser = (address: string, mandant: string) => `${address}#127.0.0.1:${svc.endpoints['smtp-submission']!.port}#${mandant}#PVS#1`;
  /** getLimits answered by the service so far (its own counter: every request that reached it). */
  const served = async () => {
    const text = await (await fetch(`http://127.0.0.1:${svc.endpoints.http!.port}/metrics`)).text();
    return Number(/postamt_kim_getlimits_total\{result="ok"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  before(async () => {
    const pkiDir = join(d.path, 'pki');
    await createTestPki({ dir: pkiDir, practices: PRACTICES, tlsNames: ['localhost', '127.0.0.1'] });
    config = testConfig(d.path, {
      konnektor: {
        trustAnchors: ['pki/ca.pem'],
        mandanten: PRACTICES.map((p) => ({ id: `m-${p.id}`, clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: `pki/${p.id}` } })),
      },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { port: 0 } },
        pop3: { starttls: { port: 0 }, implicit: { port: 0 } },
        // Above KIM's least maxMailSize, so a SIZE= beyond it reaches the getLimits check.
        maxMessageSize: 1024 ** 3,
        accounts: PRACTICES.map((p) => ({ address: p.email, contexts: [{ mandant: `m-${p.id}` }] })),
      },
    });
    const logger = createLogger('silent');
    svc = await startService(config, logger);
    await svc.accounts.addDomain(DOMAIN);
    for (const p of PRACTICES) await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
    for (const p of PRACTICES) for (const der of certificatesFrom(readFileSync(join(pkiDir, p.id, 'enc.pem')))) await svc.directory.addCertificate(p.telematikId, der);
    await svc.accounts.setLimits(A, { dataTimeToLiveDays: 15 });
    dir = await startDirectoryFor(svc, config, logger);
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
    config.clientModule.accountLimit.url = `http://{host}:${svc.endpoints.http!.port}/AccountLimit/v1.1`;
    cm = await startClientModule(config, logger, { tls: svc.tls });
  });
  after(async () => {
    await cm?.close(1000);
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  test('A_22416 / A_22417: two messages, one getLimits (cached); the Expires of each is send time + the account\'s dataTimeToLive', async () => {
    assert.equal(await served(), 0);
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, secure: false, ignoreTLS: true, auth: { user: smtpUser(A, 'm-praxis-a'), pass: PASSWORD } });
    for (const n of [1, 2]) {
      const sent = Date.now();
      const info = await t.sendMail({ from: A, to: B, subject: `Befund ${n}`, text: 'Vertraulich.', date: new Date() });
      assert.match(info.response, /^250 /);
      const acc = await svc.accounts.get(B);
      const entries = await svc.mailboxes.list(acc.id);
      const raw = (await svc.mailboxes.read(entries.at(-1)!)).toString('latin1');
      const expires = Date.parse(/^Expires: (.+)\r$/m.exec(raw)![1]!);
      assert.ok(Math.abs(expires - (sent + 15 * 86_400_000)) < 60_000, `Expires ${new Date(expires).toISOString()} = send time + 15 days`);
    }
    t.close();
    assert.equal(await served(), 1, 'the second message used the cached answer');
  });

  test('A_19355-01: a message declared larger than maxMailSize is refused at MAIL FROM with 552 5.3.4, before any byte of it', async () => {
    const c = await RawSmtpClient.connect(cm.endpoints['cm-smtp']!.port);
    try {
      assert.equal((await c.readReply()).code, 220);
      await c.cmd('EHLO ps.test');
      assert.equal((await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: smtpUser(B, 'm-praxis-b'), password: PASSWORD })}`)).code, 235);
      const limits = (await svc.accounts.get(B)).maxMailSize ?? config.service.kim.defaults.maxMailSize;
      const big = await c.cmd(`MAIL FROM:<${B}> SIZE=${limits + 1}`);
      assert.equal(big.code, 552, big.text);
      assert.match(big.text, /^552 5\.3\.4 .*maxMailSize \(734003200 bytes\)/);
      // At the limit it is fine (from the cache: B's answer is now kept too).
      const ok = await c.cmd(`MAIL FROM:<${B}> SIZE=${limits}`);
      assert.equal(ok.code, 250, ok.text);
      await c.cmd('QUIT');
    } finally {
      c.close();
    }
    assert.equal(await served(), 2, 'one getLimits for B, kept for its second MAIL FROM');
  });

  test('getLimits failing at the service (here a path it does not serve): 451 4.7.0 at MAIL FROM, nothing sent', async () => {
    // A client module with an empty cache, pointed at a path the service does not serve: a failed getLimits is a temporary failure.
    const broken = await startClientModule({ ...config, clientModule: { ...config.clientModule, accountLimit: { ...config.clientModule.accountLimit, url: `http://127.0.0.1:${svc.endpoints.http!.port}/AccountLimit/v0` } } }, createLogger('silent'), { tls: svc.tls });
    const c = await RawSmtpClient.connect(broken.endpoints['cm-smtp']!.port);
    try {
      await c.readReply();
      await c.cmd('EHLO ps.test');
      assert.equal((await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: smtpUser(A, 'm-praxis-a'), password: PASSWORD })}`)).code, 235);
      const mail = await c.cmd(`MAIL FROM:<${A}>`);
      assert.equal(mail.code, 451, mail.text);
      assert.match(mail.text, /^451 4\.7\.0 .*getLimits \(HTTP 404\)/);
    } finally {
      c.close();
      await broken.close(1000);
    }
  });
});

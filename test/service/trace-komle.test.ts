import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { STORE_KINDS, deepMerge, tempDir, testConfig, testDatabase } from '../helpers/env.js';
import { poplib, bodyOf } from '../helpers/poplib.js';
import { until } from '../helpers/wait.js';
import { createLogger } from '../../src/core/index.js';
import { createTestPki } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { startService, startDirectoryFor, startClientModule, type RunningService, type RunningDirectory, type RunningClientModule } from '../../src/roles/index.js';

const DOMAIN = 'praxis.kim.test';
const PRACTICES = [
  { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: `praxis-a@${DOMAIN}` },
  { id: 'praxis-b', name: 'Praxis B', telematikId: '1-20014712', email: `praxis-b@${DOMAIN}` },
];
const PASSWORD = 'demo-password-long';
// Words of the plaintext (Subject and body) that must appear nowhere in the trace.
const SECRET_WORDS = ['Schilddrüsenwerte', 'Levothyroxin', 'Kollegin', 'Hausarztpraxis'];

for (const kind of STORE_KINDS) {
  describe(`message trace of a KOM-LE message sent through the client module (${kind})`, () => {
    const d = tempDir();
    let svc: RunningService;
    let dir: RunningDirectory;
    let cm: RunningClientModule;
    let drop: (() => Promise<void>) | undefined;
    let skipped = false;

    before(async () => {
      const db = await testDatabase(kind);
      if (!db) {
        skipped = true;
        return;
      }
      drop = db.drop;
      const pkiDir = join(d.path, 'pki');
      await createTestPki({ dir: pkiDir, practices: PRACTICES, tlsNames: ['localhost', '127.0.0.1'] });
      const config = testConfig(
        d.path,
        deepMerge(
          { database: { url: db.url } },
          {
            konnektor: {
              trustAnchors: ['pki/ca.pem'],
              mandanten: PRACTICES.map((p, i) => ({ id: `m-${i}`, clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: `pki/${p.id}` } })),
            },
            clientModule: {
              smtp: { starttls: { port: 0 }, implicit: { port: 0 } },
              pop3: { starttls: { port: 0 }, implicit: { port: 0 } },
              accounts: PRACTICES.map((p, i) => ({ address: p.email, contexts: [{ mandant: `m-${i}` }] })),
            },
          },
        ),
      );
      const logger = createLogger('silent');
      svc = await startService(config, logger);
      await svc.accounts.addDomain(DOMAIN);
      for (const p of PRACTICES) await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
      for (const p of PRACTICES) for (const der of certificatesFrom(readFileSync(join(pkiDir, p.id, 'enc.pem')))) await svc.directory.addCertificate(p.telematikId, der);
      dir = await startDirectoryFor(svc, config, logger);
      config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
      config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
      cm = await startClientModule(config, logger, { tls: svc.tls });
    });
    after(async () => {
      await cm?.close(1000);
      await dir?.close(1000);
      await svc?.close();
      await drop?.();
      d.cleanup();
    });

    test('marked KOM-LE, stored as ciphertext, fetched by B through the client module; no word of the plaintext in any trace row', async (t) => {
      if (skipped) return t.skip('PostgreSQL explicitly skipped');
      const [a, b] = PRACTICES as [(typeof PRACTICES)[0], (typeof PRACTICES)[0]];
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: cm.endpoints['cm-smtp']!.port,
        secure: false,
        ignoreTLS: true,
        auth: { user: `${a.email}#127.0.0.1:${svc.endpoints['smtp-submission']!.port}#m-0#PVS#1`, pass: PASSWORD },
      });
      const psMessage = Buffer.from(
        `From: ${a.email}\r\nTo: ${b.email}\r\nSubject: Schilddrüsenwerte Frau M.\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\nMessage-ID: <trace-1@pvs.test>\r\n` +
          `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
          'Liebe Kollegin,\r\nbitte Levothyroxin auf 75 µg erhöhen.\r\nIhre Hausarztpraxis\r\n',
        'utf8',
      );
      const info = await transport.sendMail({ envelope: { from: a.email, to: [b.email] }, raw: psMessage });
      transport.close();
      assert.match(info.response, /^250 /);
      const trace = svc.trace!;
      const [m] = (await trace.list({ address: b.email })).items;
      assert.ok(m, 'the message is traced');
      const d1 = await trace.get(m.id);
      assert.equal(d1.komle, true);
      assert.equal(d1.events.find((e) => e.kind === 'stored')!.detail['content'], 'ciphertext');
      assert.deepEqual(d1.events.map((e) => e.kind), ['accepted', 'stored', 'delivered']);

      // B fetches it through the client module (POP3 upstream to the service): fetched.
      const r = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', `${b.email}#127.0.0.1:${svc.endpoints.pop3s!.port}#m-1#PVS#1`, PASSWORD, [['retr', 1], ['quit']]);
      assert.match(bodyOf(r.results[0]).toString('utf8'), /Levothyroxin/, 'B reads the plaintext');
      await until('fetched traced', async () => (await trace.get(m.id)).events.some((e) => e.kind === 'fetched'));

      // The client module noted both ends for the console: addresses and KIM codes, nothing of the content.
      const [received, sent] = cm.outcomes.list();
      assert.deepEqual({ d: sent!.direction, from: sent!.from, to: sent!.to, r: sent!.result }, { d: 'send', from: a.email, to: [b.email], r: 'ok' });
      assert.deepEqual({ d: received!.direction, from: received!.from, to: received!.to, r: received!.result }, { d: 'receive', from: a.email, to: [b.email], r: 'ok' });
      assert.equal(received!.codes['X-KIM-DecryptionResult'], '00');
      assert.deepEqual(received!.codes['X-KIM-IntegrityCheckResult'], ['01']);
      const ringText = JSON.stringify(cm.outcomes.list());
      for (const word of SECRET_WORDS) assert.ok(!ringText.includes(word), `"${word}" is not in the outcome ring`);

      const dump = await trace.dumpForTests();
      for (const word of SECRET_WORDS) {
        assert.ok(!dump.includes(word), `"${word}" is not in the trace`);
        assert.ok(!dump.toLowerCase().includes(word.toLowerCase()), `"${word}" is not in the trace in any case`);
      }
      assert.ok(!dump.includes(PASSWORD), 'no password');
    });
  });
}

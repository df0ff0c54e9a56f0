import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { tempDir, testConfig } from '../helpers/env.js';
import { poplib, bodyOf } from '../helpers/poplib.js';
import { createLogger, Metrics } from '../../src/core/index.js';
import { createTestPki } from '../../src/crypto/index.js';
import { certificatesFrom } from '../../src/directory/index.js';
import { startService, startDirectoryFor, startClientModule, startKonnektorSim, type RunningService, type RunningDirectory, type RunningClientModule, type RunningKonnektorSim } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';

// One client module for practices with Konnektors of their own (`konnektor.soap.perMandant`):
// practice R's Mandant lives on a second simulator; each practice's calls go to its own
// Konnektor (the rule that what may be used follows that Konnektor, A_17472, is checked with
// software Konnektors in test/crypto/konnektor/routing.test.ts).

const DOMAIN = 'praxis.kim.test';
type Practice = { id: string; name: string; telematikId: string; email: string; keys: 'rsa' | 'ecc' | 'both' };
const A: Practice = { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: `praxis-a@${DOMAIN}`, keys: 'both' };
const E: Practice = { id: 'praxis-e', name: 'Praxis E', telematikId: '1-20014715', email: `praxis-e@${DOMAIN}`, keys: 'ecc' };
const R: Practice = { id: 'praxis-r', name: 'Praxis R', telematikId: '1-20014716', email: `praxis-r@${DOMAIN}`, keys: 'rsa' };
const PASSWORD = 'demo-password-long';
const TIMEOUT_MS = 1500;

describe('one client module, one Konnektor per practice', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let sim: RunningKonnektorSim;
  let simR: RunningKonnektorSim;
  let cm: RunningClientModule;
  const metrics = new Metrics();
  const smtpUser = (p: Practice) => `${p.email}#127.0.0.1:${svc.endpoints['smtp-submission']!.port}#m-${p.id}#PVS#1`;
  const pop3User = (p: Practice) => `${p.email}#127.0.0.1:${svc.endpoints.pop3s!.port}#m-${p.id}#PVS#1`;
  const send = async (from: Practice, to: Practice[], subject: string) => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, secure: false, ignoreTLS: true, auth: { user: smtpUser(from), pass: PASSWORD } });
    try {
      const raw = `From: ${from.email}\r\nTo: ${to.map((p) => p.email).join(', ')}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@pvs.test>\r\n\r\nBefund über SOAP.\r\n`;
      return await t.sendMail({ envelope: { from: from.email, to: to.map((p) => p.email) }, raw });
    } finally {
      t.close();
    }
  };
  const fetchLast = async (who: Practice) => {
    const r = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(who), PASSWORD, [['stat'], ['quit']]);
    const count = (r.results[0] as number[])[0]!;
    const got = await poplib(cm.endpoints['cm-pop3']!.port, 'plain', pop3User(who), PASSWORD, [['retr', count], ['quit']]);
    return bodyOf(got.results[0]).toString('utf8');
  };

  before(async () => {
    const pkiDir = join(d.path, 'pki');
    await createTestPki({ dir: pkiDir, practices: [A, E, R], tlsNames: ['localhost', '127.0.0.1'] });
    const mandanten = [A, E, R].map((p) => ({ id: `m-${p.id}`, clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: `pki/${p.id}` } }));
    config = testConfig(d.path, {
      konnektorSim: { mandanten, trustAnchors: ['pki/ca.pem'] },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { port: 0 } },
        pop3: { starttls: { port: 0 }, implicit: { port: 0 } },
        signatureKey: 'rsa-else-ecc',
        accounts: [A, E, R].map((p) => ({ address: p.email, contexts: [{ mandant: `m-${p.id}`, clientSystems: ['PVS'], workplaces: ['1'] }] })),
      },
    });
    const logger = createLogger('silent');
    svc = await startService(config, logger);
    await svc.accounts.addDomain(DOMAIN);
    for (const p of [A, E, R]) {
      await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
      for (const f of readdirSync(join(pkiDir, p.id)).filter((n) => /^enc(-ecc)?\.pem$/.test(n))) {
        for (const der of certificatesFrom(readFileSync(join(pkiDir, p.id, f)))) await svc.directory.addCertificate(p.telematikId, der);
      }
    }
    dir = await startDirectoryFor(svc, config, logger);
    const others = mandanten.filter((m) => m.id !== 'm-praxis-r');
    sim = await startKonnektorSim({ ...config, konnektorSim: { ...config.konnektorSim, mandanten: others.map((m) => ({ ...m, hba: {} })) } }, logger, { tls: svc.tls });
    simR = await startKonnektorSim({ ...config, konnektorSim: { ...config.konnektorSim, mandanten: mandanten.filter((m) => m.id === 'm-praxis-r').map((m) => ({ ...m, hba: {} })) } }, logger, { tls: svc.tls });
    const common = { tls: { ca: svc.tls.certPath }, timeoutMs: TIMEOUT_MS, maxResponseBytes: 64 * 1024 * 1024, cardCacheMs: 60_000 };
    config.konnektor = { ...config.konnektor, type: 'soap', soap: { url: sim.sdsUrl, ...common, perMandant: [{ mandanten: ['m-praxis-r'], url: simR.sdsUrl, ...common }] } };
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
    cm = await startClientModule(config, logger, { tls: svc.tls, metrics });
  });
  after(async () => {
    await cm?.close(1000);
    await sim?.close(1000);
    await simR?.close(1000);
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  test('each practice signs and decrypts through its own Konnektor', async () => {
    const aSigns = sim.simulator.calls('SignDocument');
    const rSigns = simR.simulator.calls('SignDocument');
    assert.match((await send(A, [R], 'A an R')).response, /^250 /);
    assert.equal(sim.simulator.calls('SignDocument'), aSigns + 1, "A's Konnektor signed A's message");
    assert.equal(simR.simulator.calls('SignDocument'), rSigns, "R's Konnektor did not");
    const toR = await fetchLast(R);
    assert.match(toR, /^X-KIM-DecryptionResult: 00\r$/m);
    assert.match(toR, /^X-KIM-IntegrityCheckResult: 01\r$/m);
    assert.equal(simR.simulator.calls('DecryptDocument') > 0, true, "R's own Konnektor decrypted it");

    assert.match((await send(R, [A], 'R an A')).response, /^250 /);
    assert.equal(simR.simulator.calls('SignDocument'), rSigns + 1);
    assert.equal(sim.simulator.calls('SignDocument'), aSigns + 1, "A's Konnektor did not sign R's message");
    assert.match(await fetchLast(A), /^X-KIM-DecryptionResult: 00\r$/m);
  });
});

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

// The client module with `konnektor.type: soap` against the Konnektor simulator over HTTPS
// (issue 19): RSA and ECC practices send and fetch through SOAP only; the faults a practice's
// Konnektor produces — a re-inserted card, a blocked PIN, a slow Konnektor, none at all — each
// give their specified answer (SMTP 451, X-KIM-DecryptionResult 03) and nothing hangs.

const DOMAIN = 'praxis.kim.test';
type Practice = { id: string; name: string; telematikId: string; email: string; keys: 'rsa' | 'ecc' | 'both' };
const A: Practice = { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: `praxis-a@${DOMAIN}`, keys: 'both' };
const E: Practice = { id: 'praxis-e', name: 'Praxis E', telematikId: '1-20014715', email: `praxis-e@${DOMAIN}`, keys: 'ecc' };
const R: Practice = { id: 'praxis-r', name: 'Praxis R', telematikId: '1-20014716', email: `praxis-r@${DOMAIN}`, keys: 'rsa' };
const PASSWORD = 'demo-password-long';
const TIMEOUT_MS = 1500;

describe('client module over SOAP against the Konnektor simulator', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let dir: RunningDirectory;
  let sim: RunningKonnektorSim;
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
    sim = await startKonnektorSim(config, logger, { tls: svc.tls });
    config.konnektor = { ...config.konnektor, type: 'soap', soap: { url: sim.sdsUrl, tls: { ca: svc.tls.certPath }, timeoutMs: TIMEOUT_MS, maxResponseBytes: 64 * 1024 * 1024, cardCacheMs: 60_000, perMandant: [] } };
    config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];
    cm = await startClientModule(config, logger, { tls: svc.tls, metrics });
  });
  after(async () => {
    await cm?.close(1000);
    await sim?.close(1000);
    await dir?.close(1000);
    await svc?.close();
    d.cleanup();
  });

  test('KOM-LE-A_2177: RSA and ECC practices mail each other; signing (SignDocument), encryption (EncryptDocument) and decryption are SOAP calls to the Konnektor', async () => {
    const before = { sign: sim.simulator.calls('SignDocument'), enc: sim.simulator.calls('EncryptDocument'), dec: sim.simulator.calls('DecryptDocument') };
    for (const [from, to] of [[A, E], [E, A], [R, A], [A, R]] as const) {
      const info = await send(from, [to], `${from.id} an ${to.id}`);
      assert.match(info.response, /^250 /);
      const text = await fetchLast(to);
      assert.match(text, /^X-KIM-DecryptionResult: 00\r$/m, `${from.id} → ${to.id}`);
      assert.match(text, /^X-KIM-IntegrityCheckResult: 01\r$/m, `${from.id} → ${to.id}`);
      assert.match(text, /Befund über SOAP\./);
      // X-KIM-KONVersion names the Konnektor from its connector.sds (A_21388-01).
    }
    assert.ok(sim.simulator.calls('SignDocument') - before.sign >= 4);
    assert.ok(sim.simulator.calls('EncryptDocument') - before.enc >= 4);
    assert.ok(sim.simulator.calls('DecryptDocument') - before.dec >= 4);
    assert.ok(metrics.value('postamt_konnektor_calls_total', { op: 'signDocument', outcome: 'ok' }) >= 4, 'the client module counts its Konnektor calls');
  });

  test('a re-inserted card (stale handle) is found again without an error', async () => {
    sim.simulator.reinsertCard('m-praxis-a');
    assert.match((await send(A, [R], 'nach dem Ziehen')).response, /^250 /);
    assert.match(await fetchLast(R), /^X-KIM-DecryptionResult: 00\r$/m);
  });

  test('KOM-LE-A_2058 KOM-LE-A_2021: a blocked PIN aborts the signing, 451; the PIN unblocked, it works again', async () => {
    sim.simulator.setPinStatus('m-praxis-a', 'BLOCKED');
    try {
      await assert.rejects(send(A, [R], 'PIN gesperrt'), /451/);
    } finally {
      sim.simulator.setPinStatus('m-praxis-a', 'VERIFIED');
    }
    assert.match((await send(A, [R], 'PIN wieder da')).response, /^250 /);
  });

  test('KOM-LE-A_2063: the receiving card locked: the decryption is abandoned (DecryptionResult 01), the message kept for the next fetch', async () => {
    assert.match((await send(A, [R], 'an die gesperrte Karte')).response, /^250 /);
    sim.simulator.setPinStatus('m-praxis-r', 'BLOCKED');
    try {
      assert.match(await fetchLast(R), /^X-KIM-DecryptionResult: 01\r$/m);
    } finally {
      sim.simulator.setPinStatus('m-praxis-r', 'VERIFIED');
    }
    assert.match(await fetchLast(R), /^X-KIM-DecryptionResult: 00\r$/m, 'unlocked, the same message opens');
  });

  test('a Konnektor slower than timeoutMs: 451 within the timeout, nothing hangs', async () => {
    sim.simulator.setDelay(TIMEOUT_MS * 3);
    const start = Date.now();
    try {
      await assert.rejects(send(A, [R], 'zu langsam'), /451/);
    } finally {
      sim.simulator.setDelay(0);
    }
    assert.ok(Date.now() - start < TIMEOUT_MS * 3, `answered after ${Date.now() - start} ms`);
    assert.ok(metrics.value('postamt_konnektor_calls_total', { op: 'signDocument', outcome: 'unavailable' }) + metrics.value('postamt_konnektor_calls_total', { op: 'readCardCertificate', outcome: 'unavailable' }) >= 1);
  });

  test('KOM-LE-A_2047-02: a SOAP fault for the decryption: the message arrives as a failure message with vendor code X02, not lost', async () => {
    assert.match((await send(A, [R], 'Fehler beim Entschlüsseln')).response, /^250 /);
    // Every decryption of both POP3 sessions fails (the login works out each message's size by decrypting it).
    for (let i = 0; i < 40; i++) sim.simulator.failNext('DecryptDocument', 4208);
    const text = await fetchLast(R);
    // KOM-LE-A_2047-02: no row of Tab_Fehlertext_Entschl fits a fault the Konnektor answers with, so a vendor code.
    assert.match(text, /^X-KIM-DecryptionResult: X02\r$/m);
    assert.match(text, /^\[ID X02\] Der Konnektor hat die Entschl=C3=BCsselung der Nachricht abgelehnt/m);
  });

  test('the Konnektor gone: sending gets 451, fetching gives X-KIM-DecryptionResult 03', async () => {
    assert.match((await send(A, [R], 'vor dem Ausfall')).response, /^250 /);
    await sim.close(500);
    await assert.rejects(send(A, [R], 'Konnektor weg'), /451/);
    const text = await fetchLast(R);
    assert.match(text, /^X-KIM-DecryptionResult: 03\r$/m);
  });
});

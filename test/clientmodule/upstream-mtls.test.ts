import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger, UsageError } from '../../src/core/index.js';
import { SoftwareKonnektor, cardLoaderFromFiles, createTestPki, type KonnektorContext } from '../../src/crypto/index.js';
import { accountManagerJwt } from '../../src/clientmodule/account-manager-jwt.js';
import { SmtpClient, SmtpClientError } from '../../src/smtp/index.js';
import { Pop3Client, Pop3ClientError } from '../../src/pop3/index.js';
import { startService, startClientModule, type RunningService, type RunningClientModule } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';

// KOM-LE-A_2182-01 end to end: the Administrationsmodul gets the client module's certificate
// by createCert (PKCS#12), the client module presents it on its upstream SMTP and POP3
// sessions, and the service, requiring mutual TLS on submission and POP3S, lets it in; a
// client module without it is refused in the handshake, which its primary system hears as a
// temporary failure.

const DOMAIN = 'mtls.kim.test';
const A = `praxis-a@${DOMAIN}`;
const PASSWORD = 'mtls-Test-Passw0rd';
const CTX: KonnektorContext = { mandantId: 'm-a', clientSystemId: 'PVS', workplaceId: '1' };

describe('client module presents its C.CM.TLS-CS to a service that requires mutual TLS', () => {
  const d = tempDir();
  let config: Config;
  let svc: RunningService;
  let withCert: RunningClientModule;
  let without: RunningClientModule;

  const hostPort = (l: 'smtp-submission' | 'pop3s') => `127.0.0.1:${svc.endpoints[l]!.port}`;
  const user = (l: 'smtp-submission' | 'pop3s') => `${A}#${hostPort(l)}#m-a#PVS#1`;

  before(async () => {
    await createTestPki({ dir: join(d.path, 'pki'), practices: [{ id: 'praxis-a', name: 'Praxis A', telematikId: '1-50000001', email: A }], tlsNames: ['localhost', '127.0.0.1'] });
    config = testConfig(d.path, {
      service: {
        smtp: { submission: { clientCertificate: 'require' } },
        pop3: { implicit: { clientCertificate: 'require' } },
        kim: { accountManager: { trustAnchors: ['pki/ca.pem'], clientCertificates: { caCert: 'pki/ca.pem', caKey: 'pki/ca.key' } } },
      },
      konnektor: { trustAnchors: ['pki/ca.pem'], mandanten: [{ id: 'm-a', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: 'pki/praxis-a' } }] },
      clientModule: {
        smtp: { starttls: { port: 0 }, implicit: { enabled: false } },
        pop3: { starttls: { port: 0 }, implicit: { enabled: false } },
        accounts: [{ address: A, contexts: [{ mandant: 'm-a' }] }],
      },
    });
    svc = await startService(config, createLogger('silent'));
    await svc.accounts.addDomain(DOMAIN);
    await svc.accounts.add({ address: A, password: PASSWORD, displayName: 'Praxis A', telematikId: '1-50000001' });
    config.clientModule.providers = [{ host: '127.0.0.1', ports: [svc.endpoints['smtp-submission']!.port, svc.endpoints.pop3s!.port] }];

    // The Administrationsmodul's createCert, with the JWT the card signs.
    const konnektor = new SoftwareKonnektor({ mandanten: [{ id: 'm-a', clientSystems: ['PVS'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-a' }, d.path) }], trustAnchors: [] });
    const r = await fetch(`http://127.0.0.1:${svc.endpoints.http!.port}/AccountMgmt/v2.4/account/${encodeURIComponent(A)}/cert`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await accountManagerJwt(konnektor, CTX)}`, password: Buffer.from(PASSWORD).toString('base64'), 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ commonName: 'Praxis A', certPassword: Buffer.from('p12-Passw0rd').toString('base64') }),
    });
    assert.equal(r.status, 200);
    writeFileSync(join(d.path, 'cm-a.p12'), Buffer.from(String(((await r.json()) as { file: string }).file), 'base64'));

    const silent = createLogger('silent');
    withCert = await startClientModule({ ...config, clientModule: { ...config.clientModule, accounts: [{ address: A, contexts: [{ mandant: 'm-a' }], clientCertificate: { p12: 'cm-a.p12', password: 'p12-Passw0rd' } }] } }, silent, { tls: svc.tls });
    without = await startClientModule(config, silent, { tls: svc.tls });
  });
  after(async () => {
    await withCert?.close(500);
    await without?.close(500);
    await svc?.close();
    d.cleanup();
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2182-01 (presents C.CM.TLS-CS), KOM-LE-A_2074 (TLS with mutual authentication)
  test('SMTP: with the account\'s certificate the upstream login succeeds; without one the PS hears 454', async () => {
    const login = async (cm: RunningClientModule) => {
      const c = await SmtpClient.connect({ host: '127.0.0.1', port: cm.endpoints['cm-smtp']!.port, tls: 'none', clientName: 'ps.test', timeoutMs: 10_000 });
      try {
        return await c.login(user('smtp-submission'), PASSWORD).then(() => 'ok', (e: unknown) => e);
      } finally {
        c.close();
      }
    };
    assert.equal(await login(withCert), 'ok');
    const err = await login(without);
    assert.ok(err instanceof SmtpClientError, String(err));
    assert.equal(err.reply?.code, 454, 'the service refused the handshake: temporarily unreachable');
    assert.ok(svc.metrics.value('postamt_smtp_tls_failures_total', { listener: 'smtp-submission' }) >= 1, 'the refusal was in the handshake');
  });

  test('POP3: with the certificate the login goes through; without one the PS hears -ERR [SYS/TEMP]', async () => {
    const login = async (cm: RunningClientModule) => {
      const c = await Pop3Client.connect({ host: '127.0.0.1', port: cm.endpoints['cm-pop3']!.port, tls: 'none', timeoutMs: 10_000 });
      try {
        return await c.login(user('pop3s'), PASSWORD).then(() => 'ok', (e: unknown) => e);
      } finally {
        c.close();
      }
    };
    assert.equal(await login(withCert), 'ok');
    const err = await login(without);
    assert.ok(err instanceof Pop3ClientError, String(err));
    assert.match(String(err.serverText), /SYS\/TEMP|not reachable/);
  });

  test('a PKCS#12 file with the wrong password fails the start, naming the key but not the password', async () => {
    const bad = { ...config, clientModule: { ...config.clientModule, upstream: { ...config.clientModule.upstream, clientCertificate: { p12: 'cm-a.p12', password: 'wrong-secret' } } } };
    await assert.rejects(startClientModule(bad, createLogger('silent'), { tls: svc.tls }), (e: Error) => e instanceof UsageError && /clientModule\.upstream\.clientCertificate\.p12/.test(e.message) && !e.message.includes('wrong-secret'));
  });
});

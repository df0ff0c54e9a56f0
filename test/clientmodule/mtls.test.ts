import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { createTestPki, fingerprint } from '../../src/crypto/index.js';
import { startClientModule, type RunningClientModule } from '../../src/roles/index.js';
import { Pop3Client, Pop3ClientError } from '../../src/pop3/index.js';

/** Opens an SMTP connection and resolves true when the greeting arrived over TLS. */
function smtpConnects(port: number, secure: boolean, tls: Record<string, unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new SMTPConnection({ host: '127.0.0.1', port, secure, ignoreTLS: false, requireTLS: !secure, tls: { servername: 'localhost', ...tls }, logger: false, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 5000 });
    c.on('error', () => resolve(false));
    c.connect((err) => {
      // STARTTLS happens in connect() when requireTLS is set: reaching here without an error
      // means TLS is up. (A certificate the server refuses after a TLS 1.3 handshake the client
      // saw complete arrives as an error here.)
      resolve(!err && c.secure);
      c.quit();
    });
  });
}

describe('client module with mutual TLS towards primary systems', () => {
  const d = tempDir();
  let cm: RunningClientModule;
  let ca: string;
  let client: { cert: string; key: string };
  /** A client certificate of the same kind from another CA: not to be accepted either. */
  let stranger: { cert: string; key: string };
  before(async () => {
    const pki = join(d.path, 'pki');
    const other = join(d.path, 'other-pki');
    await Promise.all([
      createTestPki({ dir: pki, practices: [], tlsNames: ['localhost', '127.0.0.1'] }),
      createTestPki({ dir: other, practices: [], tlsNames: ['localhost', '127.0.0.1'] }),
    ]);
    stranger = { cert: readFileSync(join(other, 'tls', 'client.pem'), 'utf8'), key: readFileSync(join(other, 'tls', 'client.key'), 'utf8') };
    ca = readFileSync(join(pki, 'ca.pem'), 'utf8');
    client = { cert: readFileSync(join(pki, 'tls', 'client.pem'), 'utf8'), key: readFileSync(join(pki, 'tls', 'client.key'), 'utf8') };
    const server = { cert: readFileSync(join(pki, 'tls', 'server.pem'), 'utf8'), key: readFileSync(join(pki, 'tls', 'server.key'), 'utf8') };
    const config = testConfig(d.path, { clientModule: { smtp: { starttls: { port: 0 }, implicit: { port: 0 } }, pop3: { starttls: { port: 0 }, implicit: { port: 0 } }, clientCertificateCa: ['pki/ca.pem'] } });
    cm = await startClientModule(config, createLogger('silent'), { tls: { ...server, origin: 'configured', fingerprint: fingerprint(server.cert), certPath: join(pki, 'tls', 'server.pem') } });
  });
  after(async () => {
    await cm.close(500);
    d.cleanup();
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2181 (with and without client certificates), KOM-LE-A_2066 (TLS listeners for SMTP)
  test('SMTP (implicit TLS and STARTTLS): with a certificate from the configured CA the session starts, without one it does not', async () => {
    for (const [name, secure] of [['cm-smtps', true], ['cm-smtp', false]] as const) {
      const port = cm.endpoints[name]!.port;
      assert.equal(await smtpConnects(port, secure, { ca, ...client }), true, `${name} with a client certificate`);
      assert.equal(await smtpConnects(port, secure, { ca }), false, `${name} without a client certificate`);
      assert.equal(await smtpConnects(port, secure, { ca, ...stranger }), false, `${name} with a certificate from another CA`);
    }
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2181, KOM-LE-A_2067 (TLS listeners for POP3)
  test('POP3 (implicit TLS and STLS): the same', async () => {
    for (const [name, tls] of [['cm-pop3s', 'implicit'], ['cm-pop3', 'starttls']] as const) {
      const port = cm.endpoints[name]!.port;
      const ok = await Pop3Client.connect({ host: '127.0.0.1', port, tls, ca, servername: 'localhost', ...client, timeoutMs: 5000 });
      assert.equal(ok.secure, true);
      ok.close();
      for (const [what, cert] of [
        ['without a client certificate', {}],
        ['with a certificate from another CA', stranger],
      ] as const) {
        await assert.rejects(
          async () => {
            const c = await Pop3Client.connect({ host: '127.0.0.1', port, tls, ca, servername: 'localhost', ...cert, timeoutMs: 5000 });
            // TLS 1.3 reports a refused client certificate only after the handshake: the first
            // command fails then, for want of a connection (a served one would answer -ERR).
            try {
              await c.noop();
            } finally {
              c.close();
            }
          },
          (e: unknown) => e instanceof Pop3ClientError && e.kind !== 'rejected',
          `${name} ${what}`,
        );
      }
    }
  });
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger, UsageError } from '../../src/core/index.js';
import { createTestPki, issueClientModuleCert } from '../../src/crypto/index.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { addCheapAccounts } from '../helpers/integration.js';
import { run } from '../helpers/process.js';

// Mutual TLS on the service's submission and POP3 listeners (clientCertificate: require |
// request), with client certificates createCert's issuer made (C.CM.TLS-CS naming the account),
// driven by `openssl s_client -cert/-key` and without: an implementation that is not ours.

const A = 'praxis-a@kim.test';
const B = 'praxis-b@kim.test';
const PW = 'Passw0rd-of-A-and-B';

describe('mutual TLS on submission and POP3', () => {
  const d = tempDir();
  let svc: RunningService;
  const files: Record<string, { cert: string; key: string }> = {};

  /** C.CM.TLS-CS for an account, from the given CA directory, as PEM files for s_client. */
  async function clientCert(name: string, address: string, caDir: string): Promise<void> {
    const ca = { certPem: readFileSync(join(caDir, 'ca.pem'), 'utf8'), keyPem: readFileSync(join(caDir, 'ca.key'), 'utf8') };
    const p12 = join(d.path, `${name}.p12`);
    writeFileSync(p12, (await issueClientModuleCert(ca, { commonName: name, address }, { organization: 'Postamt', country: 'DE', validityDays: 10 })).p12);
    const cert = join(d.path, `${name}.pem`);
    const key = join(d.path, `${name}.key`);
    await run('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:', '-clcerts', '-nokeys', '-out', cert], { check: true });
    await run('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:', '-nocerts', '-nodes', '-out', key], { check: true });
    files[name] = { cert, key };
  }

  before(async () => {
    await Promise.all([
      createTestPki({ dir: join(d.path, 'pki'), practices: [], tlsNames: ['localhost'] }),
      createTestPki({ dir: join(d.path, 'other'), practices: [], tlsNames: ['localhost'] }),
    ]);
    await clientCert('a', A, join(d.path, 'pki'));
    await clientCert('b', B, join(d.path, 'pki'));
    await clientCert('stranger', A, join(d.path, 'other'));
    const config = testConfig(d.path, {
      service: {
        smtp: { submission: { clientCertificate: 'require' } },
        pop3: { starttls: { clientCertificate: 'request' }, implicit: { clientCertificate: 'require' } },
        kim: { accountManager: { clientCertificates: { caCert: 'pki/ca.pem', caKey: 'pki/ca.key' } } },
      },
    });
    svc = await startService(config, silentLogger());
    await svc.accounts.addDomain('kim.test');
    await addCheapAccounts(svc, [{ address: A }, { address: B }], PW);
  });
  after(async () => {
    await svc?.close();
    d.cleanup();
  });

  const port = (name: string): number => svc.endpoints[name]!.port;
  const withCert = (name?: string): string[] => (name ? ['-cert', files[name]!.cert, '-key', files[name]!.key] : []);
  const plain = (user: string): string => Buffer.from(`\0${user}\0${PW}`).toString('base64');

  /**
   * s_client as an SMTP client: each line is written once the answer it waits for has come
   * (SMTP clients must not talk before the greeting); everything read is returned when it ends.
   */
  async function submission(cert: string | undefined, user: string): Promise<string> {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port('smtp-submission')}`, '-quiet', '-ign_eof', ...withCert(cert)], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    /** How much of `out` the last step had seen: each answer is looked for after it. */
    let sent = 0;
    const steps: Array<[RegExp, string]> = [
      [/^220 /m, 'EHLO client.test\r\n'],
      [/^250 /m, `AUTH PLAIN ${plain(user)}\r\n`],
      [/^(235|535) /m, 'QUIT\r\n'],
    ];
    child.stdin.on('error', () => undefined);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      while (steps.length > 0 && steps[0]![0].test(out.slice(sent))) {
        sent = out.length;
        child.stdin.write(steps.shift()![1]);
      }
    });
    await once(child, 'close');
    return out;
  }

  async function pop3(listener: 'pop3' | 'pop3s', cert: string | undefined, user: string): Promise<string> {
    const starttls = listener === 'pop3' ? ['-starttls', 'pop3'] : [];
    const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port(listener)}`, '-quiet', '-ign_eof', ...starttls, ...withCert(cert)], { input: `USER ${user}\r\nPASS ${PW}\r\nQUIT\r\n` });
    return r.stdout;
  }

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2074 (TLS with mutual authentication), KOM-LE-A_2182-01 (the provider's C.CM.TLS-CS)
  test('submission with require: the account\'s certificate logs in; without one, or one from another CA, no session; another account\'s certificate fails AUTH (535)', async () => {
    assert.match(await submission('a', A), /^235 /m, 'own certificate, own account');
    const none = await submission(undefined, A);
    assert.doesNotMatch(none, /^220 /m, 'no certificate: refused in the handshake, no greeting');
    assert.doesNotMatch(await submission('stranger', A), /^220 /m, 'a certificate from another CA: refused');
    const other = await submission('b', A);
    assert.match(other, /^220 /m);
    assert.match(other, /^535 /m, "B's certificate cannot log in as A");
    assert.doesNotMatch(other, /^235 /m);
  });

  test('POP3S with require: the same; the certificate is matched to USER/PASS (-ERR [AUTH] for another account)', async () => {
    assert.match(await pop3('pop3s', 'a', A), /^\+OK .*maildrop|^\+OK/m);
    assert.match(await pop3('pop3s', 'a', A), /^\+OK[^\r\n]*\r?\n\+OK[^\r\n]*\r?\n\+OK/m, 'greeting, USER, PASS');
    assert.doesNotMatch(await pop3('pop3s', undefined, A), /^\+OK/m, 'no certificate: no greeting');
    assert.doesNotMatch(await pop3('pop3s', 'stranger', A), /^\+OK/m);
    const other = await pop3('pop3s', 'b', A);
    assert.match(other, /^-ERR \[AUTH\]/m, "B's certificate cannot log in as A");
  });

  test('POP3 STLS with request: without a certificate the login works; with one it must be the account\'s', async () => {
    assert.match(await pop3('pop3', undefined, A), /^\+OK[^\r\n]*\r?\n\+OK[^\r\n]*\r?\n\+OK/m, 'asked, not required');
    assert.match(await pop3('pop3', 'a', A), /^\+OK[^\r\n]*\r?\n\+OK[^\r\n]*\r?\n\+OK/m);
    assert.match(await pop3('pop3', 'b', A), /^-ERR \[AUTH\]/m, "B's verified certificate is B's: not A's login");
    assert.match(await pop3('pop3', 'stranger', A), /^\+OK[^\r\n]*\r?\n\+OK[^\r\n]*\r?\n\+OK/m, 'an unverified certificate is served as none');
  });

  test('clientCertificate without any CA configured fails the start with a clear message', async () => {
    const e = tempDir();
    try {
      await assert.rejects(startService(testConfig(e.path, { service: { pop3: { implicit: { clientCertificate: 'require' } } } }), silentLogger()), (err: Error) => err instanceof UsageError && /clientCertificateCa/.test(err.message));
    } finally {
      e.cleanup();
    }
  });
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger } from '../../src/core/index.js';
import { SoftwareKonnektor, cardLoaderFromFiles, createTestPki, type KonnektorContext } from '../../src/crypto/index.js';
import { accountManagerJwt } from '../../src/clientmodule/account-manager-jwt.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { addCheapAccounts } from '../helpers/integration.js';
import { assertConforms, assertRequestConforms } from '../helpers/openapi.js';
import { run } from '../helpers/process.js';

// createCert (AccountManager.yaml 2.4.0): the client module's TLS certificate C.CM.TLS-CS
// (gemSpec_PKI Tab_PKI_267) from the provider's CA — here the test PKI's — in a PKCS#12 file;
// the file and the certificate read and checked by OpenSSL, not by our own code.

const DOC = 'AccountManager.yaml';
const BASE = '/AccountMgmt/v2.4';
const A = 'praxis-a@kim.test';
const PW = 'Initial-Passw0rd';
const C: KonnektorContext = { mandantId: 'a', clientSystemId: 'CM', workplaceId: '1' };
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('createCert', () => {
  const d = tempDir();
  let svc: RunningService;
  let url: string;
  let konnektor: SoftwareKonnektor;
  const ca = join(d.path, 'pki', 'ca.pem');

  before(async () => {
    await createTestPki({ dir: join(d.path, 'pki'), practices: [{ id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: A }], tlsNames: ['localhost'] });
    konnektor = new SoftwareKonnektor({ mandanten: [{ id: 'a', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-a' }, d.path) }], trustAnchors: [] });
    const config = testConfig(d.path, {
      service: { kim: { accountManager: { trustAnchors: ['pki/ca.pem'], clientCertificates: { caCert: 'pki/ca.pem', caKey: 'pki/ca.key', validityDays: 30, organization: 'Postamt Test-Anbieter' } } } },
    });
    svc = await startService(config, silentLogger());
    await svc.accounts.addDomain('kim.test');
    await addCheapAccounts(svc, [{ address: A }], PW);
    await svc.accounts.setTelematikId(A, '1-20014711');
    url = `http://127.0.0.1:${svc.endpoints.http!.port}`;
  });
  after(async () => {
    await svc?.close();
    d.cleanup();
  });

  async function createCert(body: unknown, o: { user?: string; password?: string; raw?: string } = {}) {
    const path = `${BASE}/account/${encodeURIComponent(o.user ?? A)}/cert`;
    const headers: Record<string, string> = { authorization: `Bearer ${await accountManagerJwt(konnektor, C)}`, password: b64(o.password ?? PW), 'content-type': 'application/json; charset=utf-8' };
    if (o.raw === undefined && body !== undefined) await assertRequestConforms(DOC, 'createCert', BASE, { method: 'post', path, headers, body });
    const r = await fetch(url + path, { method: 'POST', headers, body: o.raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const res = { status: r.status, contentType: r.headers.get('content-type'), text: await r.text() };
    return { status: res.status, body: (await assertConforms(DOC, 'createCert', res)) as Record<string, unknown> | undefined };
  }

  /** The PKCS#12 file unpacked by `openssl pkcs12` into certificate and key files. */
  async function unpack(file: string, password: string, name: string): Promise<{ cert: string; key: string }> {
    const p12 = join(d.path, `${name}.p12`);
    writeFileSync(p12, Buffer.from(file, 'base64'));
    const cert = join(d.path, `${name}.pem`);
    const key = join(d.path, `${name}.key`);
    await run('openssl', ['pkcs12', '-in', p12, '-passin', `pass:${password}`, '-clcerts', '-nokeys', '-out', cert], { check: true });
    await run('openssl', ['pkcs12', '-in', p12, '-passin', `pass:${password}`, '-nocerts', '-nodes', '-out', key], { check: true });
    return { cert, key };
  }

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2182-01 (the provider's C.CM.TLS-CS), gemSpec_PKI: GS-A_5280 (Tab_PKI_267)
  test('issues C.CM.TLS-CS in a PKCS#12 file with certPassword: OpenSSL verifies it for TLS client use, with the profile\'s extensions', async () => {
    const r = await createCert({ commonName: 'Praxis A, Empfang', certPassword: b64('p12-Secret') });
    assert.equal(r.status, 200);
    const { cert, key } = await unpack(String(r.body!['file']), 'p12-Secret', 'with-password');
    const verified = await run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', ca, cert]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const text = (await run('openssl', ['x509', '-in', cert, '-noout', '-text', '-nameopt', 'RFC2253'], { check: true })).stdout;
    assert.match(text, /Subject: C=DE,O=Postamt Test-Anbieter,CN=Praxis A\\, Empfang#CM/, 'CN is <commonName>#CM, one attribute although it holds a comma');
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Subject Alternative Name:\s+email:praxis-a@kim.test/);
    assert.match(text, /Policy: 1\.2\.276\.0\.76\.4\.163/);
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    const days = (Date.parse(/Not After : (.+)/.exec(text)![1]!) - Date.now()) / 86_400_000;
    assert.ok(days > 29 && days <= 30, `valid for validityDays (30), is ${days}`);
    // The key is the certificate's: the same public key.
    const fromKey = (await run('openssl', ['pkey', '-in', key, '-pubout'], { check: true })).stdout;
    const fromCert = (await run('openssl', ['x509', '-in', cert, '-noout', '-pubkey'], { check: true })).stdout;
    assert.equal(fromKey, fromCert);
    const wrong = await run('openssl', ['pkcs12', '-in', join(d.path, 'with-password.p12'), '-passin', 'pass:wrong', '-nokeys']);
    assert.notEqual(wrong.code, 0, 'the container is protected by certPassword');
  });

  test('without certPassword the PKCS#12 file is not encrypted (empty password); each call issues a new key', async () => {
    const one = await createCert({ commonName: 'Praxis A' });
    const two = await createCert({ commonName: 'Praxis A' });
    assert.equal(one.status, 200);
    const a = await unpack(String(one.body!['file']), '', 'plain-1');
    const b = await unpack(String(two.body!['file']), '', 'plain-2');
    assert.equal((await run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', ca, a.cert])).code, 0);
    const serial = async (f: string) => (await run('openssl', ['x509', '-in', f, '-noout', '-serial'], { check: true })).stdout;
    assert.notEqual(await serial(a.cert), await serial(b.cert));
  });

  test('bad input: no body, no commonName, too long, control characters, unknown field, not base64 → 400; wrong password 401; unknown account 404', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{}, 400, /commonName/],
      [{ commonName: 'x'.repeat(62) }, 400, /commonName/],
      [{ commonName: 'Praxis\nA' }, 400, /control/],
      [{ commonName: 'Praxis A', csr: 'x' }, 400, /csr|Unrecognized/i],
      [{ commonName: 'Praxis A', certPassword: 'not base64!' }, 400, /base64/],
    ];
    for (const [body, status, message] of cases) {
      const r = await createCert(body, { raw: JSON.stringify(body) });
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match(String(r.body!['message']), message);
    }
    const none = await createCert(undefined);
    assert.equal(none.status, 400);
    assert.equal((await createCert({ commonName: 'Praxis A' }, { password: 'wrong-Passw0rd' })).status, 401);
    assert.equal((await createCert({ commonName: 'Praxis A' }, { user: 'nobody@kim.test' })).status, 404);
  });
});

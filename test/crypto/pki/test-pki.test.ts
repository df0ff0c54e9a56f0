import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { tempDir } from '../../helpers/env.js';
import { postamtSync, runSync } from '../../helpers/process.js';
import { decodeAdmission, ADMISSION_OID } from '../../../src/crypto/index.js';

/** OpenSSL's command line; `out` is stdout and stderr together, as a terminal shows them. */
function openssl(args: string[]): { code: number | null; out: string } {
  const r = runSync('openssl', args);
  return { code: r.code, out: r.stdout + r.stderr };
}

test('`postamt pki init` issues a test PKI that OpenSSL accepts', { timeout: 60_000 }, () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\n`);
    const { stdout: out } = postamtSync(['pki', 'init'], { config: cfg, check: true });
    assert.match(out, /TEST-ONLY PKI written to/);
    const pki = join(d.path, 'pki');
    assert.match(readFileSync(join(pki, 'README-TEST-ONLY.txt'), 'utf8'), /TEST ONLY - NOT FOR PRODUCTION/);
    assert.equal(statSync(join(pki, 'ca.key')).mode & 0o777, 0o600);

    for (const [id, tid] of [['praxis-a', '1-20014711'], ['praxis-b', '1-20014712']] as const) {
      for (const kind of ['osig', 'enc']) {
        const certPath = join(pki, id, `${kind}.pem`);
        assert.equal(openssl(['verify', '-CAfile', join(pki, 'ca.pem'), certPath]).code, 0, `${id}/${kind} chains to the CA`);
        const text = openssl(['x509', '-in', certPath, '-noout', '-text']).out;
        assert.match(text, new RegExp(`registrationNumber: ${tid}`), 'OpenSSL reads the Telematik-ID from the Admission extension');
        assert.match(text, new RegExp(`email:${id}@praxis\\.kim\\.test`));
        assert.match(text, /TEST ONLY - NOT FOR PRODUCTION/);
        assert.match(text, kind === 'osig' ? /Digital Signature, Non Repudiation/ : /Key Encipherment, Data Encipherment/);
        const cert = new x509.X509Certificate(readFileSync(certPath, 'utf8'));
        const ext = cert.getExtension(ADMISSION_OID);
        assert.equal(decodeAdmission(new Uint8Array(ext!.value))?.telematikId, tid);
        // The key matches the certificate.
        const key = readFileSync(join(pki, id, `${kind}.key`), 'utf8');
        assert.ok(new X509Certificate(readFileSync(certPath)).checkPrivateKey(createPrivateKey(key)));
        // PKCS#12: OpenSSL opens it with the password, and not without it.
        const p12 = join(pki, id, `${kind}.p12`);
        const good = openssl(['pkcs12', '-in', p12, '-passin', 'pass:postamt-test', '-nodes', '-info']);
        assert.equal(good.code, 0, good.out);
        assert.match(good.out, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
        assert.match(good.out, /BEGIN PRIVATE KEY/);
        assert.notEqual(openssl(['pkcs12', '-in', p12, '-passin', 'pass:wrong', '-nodes', '-noout']).code, 0);
      }
    }
    const server = openssl(['x509', '-in', join(pki, 'tls', 'server.pem'), '-noout', '-text']).out;
    assert.match(server, /TLS Web Server Authentication/);
    assert.match(server, /DNS:localhost, IP Address:127\.0\.0\.1/);
    assert.match(openssl(['x509', '-in', join(pki, 'tls', 'client.pem'), '-noout', '-text']).out, /TLS Web Client Authentication/);

    const again = postamtSync(['pki', 'init'], { config: cfg });
    assert.notEqual(again.code, 0, 'an existing PKI is never overwritten');
    assert.match(again.stderr, /already holds a test PKI/);
  } finally {
    d.cleanup();
  }
});


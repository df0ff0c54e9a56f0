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


test('`postamt pki init` issues RSA and brainpoolP256r1 identities by default; a practice spec chooses rsa, ecc or both', { timeout: 60_000 }, () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\n`);
    const help = postamtSync(['pki', 'init', '--help'], { config: cfg, check: true }).stdout;
    assert.match(help, /id;Name;Telematik-ID;address\[;rsa\|ecc\|both\]/);
    assert.match(help, /brainpoolP256r1/);

    const { stdout: out } = postamtSync(['pki', 'init'], { config: cfg, check: true });
    const pki = join(d.path, 'pki');
    for (const id of ['praxis-a', 'praxis-b']) {
      assert.match(out, new RegExp(`RSA-2048: +OSIG ${pki}/${id}/osig\\.pem  ENC ${pki}/${id}/enc\\.pem`));
      assert.match(out, new RegExp(`brainpoolP256r1: OSIG ${pki}/${id}/osig-ecc\\.pem  ENC ${pki}/${id}/enc-ecc\\.pem`));
      assert.match(openssl(['x509', '-in', join(pki, id, 'enc-ecc.pem'), '-noout', '-text']).out, /ASN1 OID: brainpoolP256r1/);
    }

    const dir2 = join(d.path, 'pki2');
    const spec = (id: string, n: number, keys?: string) => ['--practice', [id, `Praxis ${id}`, `1-2001480${n}`, `${id}@praxis.kim.test`, ...(keys ? [keys] : [])].join(';')];
    const two = postamtSync(['pki', 'init', '--dir', dir2, ...spec('nur-ecc', 1, 'ecc'), ...spec('nur-rsa', 2, 'rsa'), ...spec('beide', 3)], { config: cfg, check: true }).stdout;
    assert.match(two, /nur-ecc: [^\n]*\n {4}brainpoolP256r1: /);
    assert.doesNotMatch(two, /nur-ecc: [^\n]*\n {4}RSA-2048/);
    assert.match(two, /nur-rsa: [^\n]*\n {4}RSA-2048: [^\n]*\n {4}\(keys/);
    assert.match(two, /beide: [^\n]*\n {4}RSA-2048: [^\n]*\n {4}brainpoolP256r1: /);
    assert.equal(openssl(['verify', '-CAfile', join(dir2, 'ca.pem'), join(dir2, 'nur-ecc', 'enc-ecc.pem'), join(dir2, 'beide', 'osig-ecc.pem')]).code, 0);
    assert.notEqual(openssl(['x509', '-in', join(dir2, 'nur-ecc', 'enc.pem'), '-noout']).code, 0, 'an ECC-only practice has no RSA certificate');

    const bad = postamtSync(['pki', 'init', '--dir', join(d.path, 'pki3'), ...spec('x', 4, 'dsa')], { config: cfg });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /rsa|ecc|both/);
  } finally {
    d.cleanup();
  }
});

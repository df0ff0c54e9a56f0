import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { UsageError } from '../../src/core/index.js';
import { loadTlsMaterial } from '../../src/crypto/index.js';
import { tempDir } from '../helpers/env.js';
import { runSync } from '../helpers/process.js';

const usage = (pattern: RegExp) => (err: Error) => err instanceof UsageError && pattern.test(err.message);

describe('config tls: curves, suites, ECC certificates (GS-A_4384-01, A_17124-01)', () => {
  test('GS-A_4384-01: the defaults are the TI curves with X25519 first and the TR-02102-2 GCM suites, ECDSA first', () => {
    const c = parseConfig({}, 'f', {});
    assert.deepEqual(c.tls.ecdhCurves.slice(0, 5), ['X25519', 'P-256', 'P-384', 'brainpoolP256r1', 'brainpoolP384r1']);
    assert.deepEqual(c.tls.ciphers12, ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384']);
    assert.equal(c.tls.brainpoolTls13, false, 'a brainpool-only listener serves TLS 1.2 at most unless asked');
    assert.equal(parseConfig({ tls: { brainpoolTls13: true } }, 'f', {}).tls.brainpoolTls13, true);
    // A narrower list of known names is fine.
    assert.deepEqual(parseConfig({ tls: { ecdhCurves: ['brainpoolP256r1', 'secp384r1'], ciphers12: ['ECDHE-RSA-AES256-GCM-SHA384'] } }, 'f', {}).tls.ecdhCurves, ['brainpoolP256r1', 'secp384r1']);
  });

  test('A_17124-01, KOM-LE-A_2064-02: an unknown curve stops config loading with the key, the name and what would do', () => {
    assert.throws(() => parseConfig({ tls: { ecdhCurves: ['P-256', 'brainpoolP999r1'] } }, 'postamt.yaml', {}), usage(/postamt\.yaml: tls\.ecdhCurves\.1: "brainpoolP999r1" is not a curve this OpenSSL \(3\.[^)]*\) knows; e\.g\. X25519, P-256/));
    // Several names in one string are OpenSSL's syntax, not ours: one name per list entry.
    assert.throws(() => parseConfig({ tls: { ecdhCurves: ['P-256:P-384'] } }, 'f', {}), usage(/tls\.ecdhCurves\.0: "P-256:P-384" is not a curve/));
    // auto is valid for OpenSSL, but it is the setting that leaves brainpool out.
    assert.throws(() => parseConfig({ tls: { ecdhCurves: ['auto'] } }, 'f', {}), usage(/tls\.ecdhCurves\.0: auto is OpenSSL's default list, which has no brainpool curve/));
    assert.throws(() => parseConfig({ tls: { ecdhCurves: [] } }, 'f', {}), usage(/tls\.ecdhCurves: name at least one curve/));
  });

  test('GS-A_4384-01: a TLS 1.2 suite outside BSI TR-02102-2 or unknown stops config loading', () => {
    assert.throws(() => parseConfig({ tls: { ciphers12: ['ECDHE-RSA-AES128-GCM-SHA256', 'AES128-SHA'] } }, 'f', {}), usage(/tls\.ciphers12\.1: "AES128-SHA" is not a TLS 1\.2 cipher suite of BSI TR-02102-2/));
    assert.throws(() => parseConfig({ tls: { ciphers12: ['HIGH:!aNULL'] } }, 'f', {}), usage(/tls\.ciphers12\.0: "HIGH:!aNULL" is not/));
    assert.throws(() => parseConfig({ tls: { ciphers12: ['TLS_AES_128_GCM_SHA256'] } }, 'f', {}), usage(/tls\.ciphers12\.0/));
    assert.throws(() => parseConfig({ tls: { ciphers12: [] } }, 'f', {}), usage(/tls\.ciphers12: name at least one/));
  });

  test('a wrong curve in postamt.yaml fails loadConfig with the file name', () => {
    const d = tempDir();
    try {
      const file = join(d.path, 'postamt.yaml');
      writeFileSync(file, 'tls:\n  ecdhCurves: [X25519, brainpoolP256r1tls13x]\n');
      assert.throws(() => loadConfig(file, {}), usage(new RegExp(`${file.replace(/[.]/g, '\\.')}: tls\\.ecdhCurves\\.1: "brainpoolP256r1tls13x" is not a curve`)));
    } finally {
      d.cleanup();
    }
  });

  test('tls.eccCert needs tls.eccKey and an RSA tls.cert beside it', () => {
    assert.throws(() => parseConfig({ tls: { cert: 'a', key: 'b', eccCert: 'c' } }, 'f', {}), usage(/tls\.eccKey: set both tls\.eccCert and tls\.eccKey/));
    assert.throws(() => parseConfig({ tls: { eccCert: 'c', eccKey: 'd' } }, 'f', {}), usage(/tls\.eccCert: tls\.eccCert goes beside an RSA tls\.cert/));
  });

  describe('certificates at start (loadTlsMaterial)', () => {
    const d = tempDir();
    const make = (name: string, keyArgs: string[]): void => {
      const r = runSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', `${name}.key`, '-out', `${name}.crt`], { cwd: d.path });
      assert.equal(r.code, 0, r.stderr);
    };
    before(() => {
      make('bp', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1']);
      make('p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
      make('p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521']);
      make('rsa', ['-newkey', 'rsa:2048']);
    });
    after(() => d.cleanup());
    const cfg = (tls: Record<string, string>) => parseConfig({ dataDir: d.path, tls }, 'f', {});

    test('A_17124-01: a brainpoolP256r1 or P-256 certificate is taken as tls.cert; RSA with an ECC one beside it', async () => {
      for (const n of ['bp', 'p256', 'rsa']) {
        const m = await loadTlsMaterial(cfg({ cert: `${n}.crt`, key: `${n}.key` }), []);
        assert.equal(m.origin, 'configured');
        assert.equal(m.ecc, undefined);
      }
      const dual = await loadTlsMaterial(cfg({ cert: 'rsa.crt', key: 'rsa.key', eccCert: 'bp.crt', eccKey: 'bp.key' }), []);
      assert.match(dual.ecc?.cert ?? '', /BEGIN CERTIFICATE/);
      assert.notEqual(dual.ecc?.fingerprint, dual.fingerprint);
    });

    test('A_17124-01: a curve outside the TI\'s, a key that does not fit, or two certificates of one type stop the start', async () => {
      await assert.rejects(loadTlsMaterial(cfg({ cert: 'p521.crt', key: 'p521.key' }), []), usage(/tls\.cert: the certificate's curve secp521r1 is none of P-256, P-384, brainpoolP256r1, brainpoolP384r1/));
      await assert.rejects(loadTlsMaterial(cfg({ cert: 'bp.crt', key: 'p256.key' }), []), usage(/tls\.key: .*p256\.key is not the key of the certificate .*bp\.crt/));
      await assert.rejects(loadTlsMaterial(cfg({ cert: 'rsa.crt', key: 'rsa.key', eccCert: 'rsa.crt', eccKey: 'rsa.key' }), []), usage(/tls\.eccCert: the certificate is not an ECC one/));
      await assert.rejects(loadTlsMaterial(cfg({ cert: 'p256.crt', key: 'p256.key', eccCert: 'bp.crt', eccKey: 'bp.key' }), []), usage(/tls\.cert: with tls\.eccCert beside it, tls\.cert must be the RSA certificate/));
      await assert.rejects(loadTlsMaterial(cfg({ cert: 'rsa.crt', key: 'rsa.key', eccCert: 'bp.crt', eccKey: 'rsa.key' }), []), usage(/tls\.eccKey: .*rsa\.key is not the key of the certificate .*bp\.crt/));
    });
  });
});

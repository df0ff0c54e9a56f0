import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { stringify } from 'yaml';
import { repositoryPath, tempDir, testConfig } from '../helpers/env.js';
import { postamt, run } from '../helpers/process.js';
import { createLogger } from '../../src/core/index.js';
import { startDirectoryFor, startService, type RunningDirectory, type RunningService } from '../../src/roles/index.js';

// The TI's SMC-Bs carry an RSA-2048 and a brainpoolP256r1 encryption certificate; a directory
// entry publishes both. gematik's samples (test/fixtures/gematik-smcb-enc) go in through the
// CLI and the admin API and must come out of LDAP byte for byte, read by OpenLDAP's ldapsearch.

const SAMPLES = repositoryPath('test', 'fixtures', 'gematik-smcb-enc');
const samplePath = (card: '56' | '57', kind: 'E256' | 'R2048'): string => join(SAMPLES, `802760010116999008${card}-C_SMCB_ENC_${kind}_X509.crt`);
const BASE = 'dc=data,dc=vzd';

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

/** The userCertificate;binary values ldapsearch prints for the entry with this mail address. */
async function ldapCertificates(url: string, mail: string): Promise<Buffer[]> {
  const r = await run('ldapsearch', ['-x', '-o', 'ldif-wrap=no', '-o', 'nettimeout=10', '-H', url, '-b', BASE, `(mail=${mail})`, 'userCertificate;binary'], { env: { ...process.env, LDAPTLS_REQCERT: 'never' } });
  assert.equal(r.code, 0, r.stderr);
  return [...r.stdout.matchAll(/^userCertificate;binary:: (.*)$/gm)].map((m) => Buffer.from(m[1]!, 'base64'));
}

const sortedHex = (list: Buffer[]): string[] => list.map((b) => b.toString('hex')).sort();

test("`postamt directory cert add` and the admin API take gematik's E256 (brainpoolP256r1) and R2048 ENC certificates; LDAP returns them byte for byte", { timeout: 60_000 }, async () => {
  const d = tempDir();
  let svc: RunningService | undefined;
  let ldap: RunningDirectory | undefined;
  try {
    const configFile = join(d.path, 'postamt.yaml');
    writeFileSync(configFile, stringify({ dataDir: d.path, log: { level: 'silent' } }));
    const cli = (args: string[]) => postamt(args, { config: configFile });

    // Card 56 through the CLI: the DER files as gematik ships them.
    let r = await cli(['directory', 'add', '--telematik-id', '9-2KIM-BITMARCK-01', '--name', 'KIM-Anbieter Bitmarck 01', '--mail', 'bitmarck-01@kim.test']);
    assert.equal(r.code, 0, r.stderr);
    for (const kind of ['E256', 'R2048'] as const) {
      r = await cli(['directory', 'cert', 'add', '9-2KIM-BITMARCK-01', samplePath('56', kind)]);
      assert.equal(r.code, 0, `${kind}: ${r.stderr}`);
      assert.match(r.stdout, /^added [0-9a-f]{64}$/m);
    }
    r = await cli(['directory', 'cert', 'list', '9-2KIM-BITMARCK-01', '--json']);
    const listed = JSON.parse(r.stdout) as Array<{ issuer: string }>;
    assert.deepEqual(listed.map((c) => /CN=(GEM\.SMCB-CA\d+)/.exec(c.issuer)?.[1]).sort(), ['GEM.SMCB-CA41', 'GEM.SMCB-CA51']);
    // The same certificate as PEM is recognised as already there.
    const pemFile = join(d.path, 'e256.pem');
    writeFileSync(pemFile, toPem(readFileSync(samplePath('56', 'E256'))));
    r = await cli(['directory', 'cert', 'add', '9-2KIM-BITMARCK-01', pemFile]);
    assert.match(r.stdout, /^already present /m);

    // Card 57 through the admin API: DER and PEM bodies.
    const config = testConfig(d.path);
    svc = await startService(config, createLogger('silent'));
    const base = `http://127.0.0.1:${svc.endpoints.http!.port}/api/directory`;
    const auth = { authorization: `Bearer ${svc.adminToken}` };
    const created = await fetch(`${base}/entries`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { telematikID: '9-2KIM-BITMARCK-02', displayName: 'KIM-Anbieter Bitmarck 02', mail: 'bitmarck-02@kim.test' } }),
    });
    assert.equal(created.status, 201);
    const der = await fetch(`${base}/entries/9-2KIM-BITMARCK-02/certificates`, { method: 'POST', headers: { ...auth, 'content-type': 'application/pkix-cert' }, body: readFileSync(samplePath('57', 'E256')) });
    assert.equal(der.status, 201, await der.clone().text());
    assert.equal(((await der.json()) as Array<{ added: boolean }>)[0]!.added, true);
    const pem = await fetch(`${base}/entries/9-2KIM-BITMARCK-02/certificates`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-pem-file' }, body: toPem(readFileSync(samplePath('57', 'R2048'))) });
    assert.equal(pem.status, 201, await pem.clone().text());
    const infos = (await (await fetch(`${base}/entries/9-2KIM-BITMARCK-02/certificates`, { headers: auth })).json()) as Array<{ subject: string; notAfter: string }>;
    assert.equal(infos.length, 2);
    for (const i of infos) assert.match(i.subject, /CN=KIM-Anbieter Bitmarck 02 TEST-ONLY/);

    // Over LDAP, read by a client that is not ours.
    ldap = await startDirectoryFor(svc, config, createLogger('silent'));
    const url = `ldap://127.0.0.1:${ldap.endpoints.ldap!.port}`;
    for (const [card, mail] of [['56', 'bitmarck-01@kim.test'], ['57', 'bitmarck-02@kim.test']] as const) {
      const got = await ldapCertificates(url, mail);
      assert.deepEqual(sortedHex(got), sortedHex([readFileSync(samplePath(card, 'E256')), readFileSync(samplePath(card, 'R2048'))]), `card ${card}: both certificates, unchanged`);
      const curves = got.map((c) => new X509Certificate(c).publicKey.asymmetricKeyDetails?.namedCurve ?? 'rsa').sort();
      assert.deepEqual(curves, ['brainpoolP256r1', 'rsa']);
    }
  } finally {
    await ldap?.close();
    await svc?.close();
    d.cleanup();
  }
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, testConfig } from '../../helpers/env.js';
import { postamt, postamtSync } from '../../helpers/process.js';
import { createLogger } from '../../../src/core/index.js';
import { createTestPki } from '../../../src/crypto/index.js';
import { startKonnektorSim, startService, type RunningService } from '../../../src/roles/index.js';

// `postamt konnektor status` and GET /api/konnektor/status over the software Konnektor: every
// card the configured contexts reach, RSA and ECC certificates with their expiry (A_17464's
// ECC capability beside them), and a context the Konnektor refuses reported in its entry.

const d = tempDir();
const file = join(d.path, 'postamt.yaml');

before(async () => {
  await createTestPki({
    dir: join(d.path, 'data', 'pki'),
    practices: [
      { id: 'praxis-a', name: 'Praxis A', telematikId: '1-1', email: 'a@praxis.kim.test', keys: 'both' },
      { id: 'praxis-e', name: 'Praxis E', telematikId: '1-2', email: 'e@praxis.kim.test', keys: 'ecc' },
    ],
    tlsNames: ['localhost'],
  });
  writeFileSync(
    file,
    [
      `dataDir: ${join(d.path, 'data')}`,
      'konnektor:',
      '  mandanten:',
      '    - { id: m-a, clientSystems: [PVS], workplaces: ["*"], smcb: { dir: pki/praxis-a } }',
      '    - { id: m-e, clientSystems: [PVS], workplaces: [Empfang], smcb: { dir: pki/praxis-e } }',
      '    - { id: m-x, clientSystems: [PVS], workplaces: ["*"], smcb: { dir: pki/nowhere } }',
      '',
    ].join('\n'),
  );
});
after(() => d.cleanup());

test('postamt konnektor status: certificates of both kinds with expiry, ECC capability; a missing card is its entry\'s error (exit 1)', () => {
  const r = postamtSync(['konnektor', 'status', '-c', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /ECC capable \(A_17464\): yes/);
  assert.match(r.stdout, /SignatureService 7\.5\.5, EncryptionService 6\.1\.1/);
  assert.match(r.stdout, /^SMC-B for m-a\/PVS\/status$/m);
  for (const line of [/^ {2}C\.ENC RSA until \d{4}-\d\d-\d\d \(\d+ days left\)/m, /^ {2}C\.ENC ECC until/m, /^ {2}C\.SIG RSA until/m, /^ {2}C\.SIG ECC until/m]) assert.match(r.stdout, line);
  assert.match(r.stdout, /^SMC-B for m-e\/PVS\/Empfang$/m);
  assert.match(r.stdout, /^ {2}ERROR card-not-found: /m);
});

test('--json, --context and --warn-days', () => {
  const r = postamtSync(['konnektor', 'status', '-c', file, '--json', '--context', 'm-e#PVS#Empfang', '--context', 'm-e#PVS#Keller']);
  const s = JSON.parse(r.stdout) as { eccCapable: boolean; cards: Array<{ context: { workplaceId: string }; certificates: Array<{ crypt: string; ref: string; expiresSoon: boolean }>; error?: { code: string } }> };
  assert.equal(s.eccCapable, true);
  assert.equal(s.cards.length, 2);
  // The ECC-only card: only ECC certificates, none expiring within 30 days.
  assert.deepEqual(s.cards[0]!.certificates.map((c) => `${c.ref} ${c.crypt}`), ['C.ENC ECC', 'C.SIG ECC']);
  assert.equal(s.cards[1]!.error?.code, 'unknown-workplace');
  assert.equal(r.code, 1, 'one context failed');
  const ok = postamtSync(['konnektor', 'status', '-c', file, '--context', 'm-a#PVS#1']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const soon = postamtSync(['konnektor', 'status', '-c', file, '--context', 'm-a#PVS#1', '--warn-days', '100000']);
  assert.equal(soon.code, 1);
  assert.match(soon.stdout, /renew soon/);
  assert.equal(postamtSync(['konnektor', 'status', '-c', file, '--context', 'only-mandant']).code, 2);
  assert.match(postamtSync(['konnektor', 'status', '--help']).stdout, /MandantId#ClientSystemId#WorkplaceId/);
});

test('GET /api/konnektor/status needs the bearer token and gives the same report', async () => {
  const config = testConfig(join(d.path, 'data'), {
    konnektor: { mandanten: [{ id: 'm-a', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: 'pki/praxis-a' } }] },
  });
  let svc: RunningService | undefined;
  try {
    svc = await startService(config, createLogger('silent'));
    const url = `http://127.0.0.1:${svc.endpoints.http!.port}/api/konnektor/status`;
    assert.equal((await fetch(url)).status, 401);
    const res = await fetch(url, { headers: { authorization: `Bearer ${svc.adminToken}` } });
    assert.equal(res.status, 200);
    const s = (await res.json()) as { cards: Array<{ certificates: unknown[] }> };
    assert.equal(s.cards[0]!.certificates.length, 4);
    assert.equal((await fetch(`${url}?warnDays=x`, { headers: { authorization: `Bearer ${svc.adminToken}` } })).status, 400);
  } finally {
    await svc?.close();
  }
});

test('against the Konnektor simulator over SOAP: status shows handle and PIN; verify-pin unlocks a card, a blocked one exits 1', async () => {
  const dataDir = join(d.path, 'data');
  const config = testConfig(dataDir, { konnektorSim: { trustAnchors: ['pki/ca.pem'], mandanten: [{ id: 'm-a', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: 'pki/praxis-a' } }] } });
  // The simulator runs in this process: the CLI runs asynchronously, so the simulator can answer it.
  const sim = await startKonnektorSim(config, createLogger('silent'));
  try {
    const soapFile = join(d.path, 'soap.yaml');
    writeFileSync(soapFile, [`dataDir: ${dataDir}`, 'konnektor:', '  type: soap', '  soap:', `    url: ${sim.sdsUrl}`, '    tls: { ca: tls/selfsigned.crt }', ''].join('\n'));
    sim.simulator.setPinStatus('m-a', 'VERIFIABLE');
    const status = await postamt(['konnektor', 'status', '-c', soapFile, '--context', 'm-a#PVS#1']);
    assert.match(status.stdout, new RegExp(`^SMC-B for m-a/PVS/1  handle ${sim.simulator.cardHandle('m-a')}  ICCSN \\d+  PIN VERIFIABLE`, 'm'));
    assert.match(status.stdout, /services: .*SignatureService 7\.5\.5/);
    const ok = await postamt(['konnektor', 'verify-pin', '-c', soapFile, '--context', 'm-a#PVS#1']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /PIN status before: VERIFIABLE[\s\S]*VerifyPin: OK/);
    assert.match((await postamt(['konnektor', 'status', '-c', soapFile, '--context', 'm-a#PVS#1'])).stdout, /PIN VERIFIED/);
    sim.simulator.setPinStatus('m-a', 'BLOCKED');
    const blocked = await postamt(['konnektor', 'verify-pin', '-c', soapFile, '--context', 'm-a#PVS#1']);
    assert.equal(blocked.code, 1);
    assert.match(blocked.stdout, /VerifyPin: WASBLOCKED/);
    assert.equal((await postamt(['konnektor', 'verify-pin', '-c', file, '--context', 'm-a#PVS#1'])).code, 2, 'the software Konnektor has no PIN');
  } finally {
    await sim.close(500);
  }
});

test('A_19457-02: postamt konnektor account-manager-jwt prints a JWT the Account Manager takes (configured Konnektor and --identity); neither or both is a usage error', async () => {
  const { checkAccountManagerJwt } = await import('../../../src/service/index.js');
  const { X509Certificate } = await import('node:crypto');
  const { readCertificateFile } = await import('../../../src/crypto/index.js');
  const anchors = readCertificateFile(join(d.path, 'data', 'pki', 'ca.pem')).map((x) => new X509Certificate(x));
  const check = (token: string, audiences: string[] = []) => checkAccountManagerJwt(token, { trustAnchors: anchors, now: Math.floor(Date.now() / 1000), maxLifetimeSeconds: 300, clockSkewSeconds: 60, audiences });
  const viaConfig = postamtSync(['konnektor', 'account-manager-jwt', '-c', file, '--context', 'm-a#PVS#1', '--audience', 'https://am.test/AccountMgmt/v2.4']);
  assert.equal(viaConfig.code, 0, viaConfig.stderr);
  assert.equal(check(viaConfig.stdout.trim(), ['https://am.test/AccountMgmt/v2.4']).telematikId, '1-1');
  const viaIdentity = postamtSync(['konnektor', 'account-manager-jwt', '--identity', join(d.path, 'data', 'pki', 'praxis-a')]);
  assert.equal(viaIdentity.code, 0, viaIdentity.stderr);
  assert.equal(check(viaIdentity.stdout.trim()).telematikId, '1-1');
  const neither = postamtSync(['konnektor', 'account-manager-jwt', '-c', file]);
  assert.notEqual(neither.code, 0);
  assert.match(neither.stderr, /either --context .* or --identity/);
});

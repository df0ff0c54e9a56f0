import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptAuthEnveloped, readCertificateFile } from '../../src/crypto/index.js';
import { apiTelematikDir } from '../../src/konnektor-sim/index.js';
import { repositoryPath } from '../helpers/env.js';
import { run } from '../helpers/process.js';
import { CTX, startSimFixture, type SimFixture } from './fixture.js';

// A client that is not node-soap: Python's zeep (Debian's /usr/bin/python3), strict, built from
// the vendored WSDLs, calls GetCards, ReadCardCertificate and DecryptDocument of the simulator.

let f: SimFixture;
before(async () => {
  f = await startSimFixture();
});
after(async () => {
  await f?.close();
});

test('zeep from the WSDLs: GetCards, ReadCardCertificate (RSA and ECC) and DecryptDocument (ECC key) get valid answers', async () => {
  const pem = (p: string): Uint8Array => readCertificateFile(join(f.dir, 'pki', p))[0]!;
  const content = Buffer.from('Hallo aus Python');
  const envelope = encryptAuthEnveloped(content, [{ certDer: pem('praxis-a/enc-ecc.pem'), email: 'praxis-a@praxis.kim.test' }]);
  const caFile = join(f.dir, 'sim-ca.pem');
  writeFileSync(caFile, f.caPem);
  const s = f.sim.simulator;
  const job = {
    conn: join(apiTelematikDir(), 'conn'),
    ca: caFile,
    context: CTX,
    envelope: Buffer.from(envelope).toString('base64'),
    endpoints: Object.fromEntries((['EventService', 'CertificateService', 'EncryptionService'] as const).map((n) => [n, s.endpointOf(n)])),
  };
  const res = await run('/usr/bin/python3', [repositoryPath('test', 'konnektor-sim', 'zeep_client.py')], { input: JSON.stringify(job) });
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout) as { status: string; cards: Array<{ handle: string; type: string; iccsn: string }>; certs: Record<'RSA' | 'ECC', string>; decryptStatus: string; decrypted: string };
  assert.equal(out.status, 'OK');
  assert.deepEqual(out.cards.map((c) => c.type).sort(), ['HBA', 'SMC-B']);
  assert.equal(out.cards.find((c) => c.type === 'SMC-B')!.handle, s.cardHandle('1'));
  assert.deepEqual(new Uint8Array(Buffer.from(out.certs.RSA, 'base64')), pem('praxis-a/enc.pem'));
  assert.deepEqual(new Uint8Array(Buffer.from(out.certs.ECC, 'base64')), pem('praxis-a/enc-ecc.pem'));
  assert.equal(out.decryptStatus, 'OK');
  assert.deepEqual(Buffer.from(out.decrypted, 'base64'), content);
});

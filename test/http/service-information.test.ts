import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger } from '../../src/core/index.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { assertConforms, assertRequestConforms } from '../helpers/openapi.js';
import { UsageError } from '../../src/core/index.js';

// I_ServiceInformation (ServiceInformation.yaml 1.0.3): checked against gematik's document.

let svc: RunningService;
let base: string;
let dir: { path: string; cleanup(): void };

before(async () => {
  dir = tempDir();
  svc = await startService(
    testConfig(dir.path, { service: { kim: { serviceInformation: { kimServiceVersion: '1.5.0;1.5.2', jwtExpiration: 600, referenceIdRequired: true } } } }),
    silentLogger(),
  );
  await svc.accounts.addDomain('kim.test');
  base = `http://127.0.0.1:${svc.endpoints.http!.port}`;
});

after(async () => {
  await svc?.close();
  dir?.cleanup();
});

test('getServiceInformation answers the configured facts, conforming to ServiceInformation.yaml, without authentication', async () => {
  await assertRequestConforms('ServiceInformation.yaml', 'getServiceInformation', '/ServiceInformation/v1.0', { method: 'get', path: '/ServiceInformation/v1.0/serviceinfo', headers: {} });
  const r = await fetch(`${base}/ServiceInformation/v1.0/serviceinfo`);
  const res = { status: r.status, contentType: r.headers.get('content-type'), text: await r.text() };
  assert.equal(res.status, 200);
  assert.equal(res.contentType, 'application/json; charset=utf-8');
  const body = (await assertConforms('ServiceInformation.yaml', 'getServiceInformation', res)) as Record<string, unknown>;
  assert.equal(body.kimServiceVersion, '1.5.0;1.5.2');
  assert.equal(body.jwtExpiration, 600);
  assert.equal(body.referenceIdRequired, true);
  assert.equal(body.initialPasswordRequired, true, 'the Account Manager checks the initial password by default');
  assert.equal(typeof body.passwordPolicyDisplay, 'string');
});

test('the password policy it announces is the one the accounts enforce', async () => {
  const r = await fetch(`${base}/ServiceInformation/v1.0/serviceinfo`);
  const { passwordPolicyRegEx } = (await r.json()) as { passwordPolicyRegEx: string };
  const policy = new RegExp(passwordPolicyRegEx);
  const samples = ['', 'short', '1234567', '12345678', 'with\nbreak', 'x'.repeat(1024), 'x'.repeat(1025), 'Grüße aus Köln'];
  for (const [i, pw] of samples.entries()) {
    const address = `p${i}@kim.test`;
    const accepted = await svc.accounts.add({ address, password: pw }).then(
      () => true,
      (err: unknown) => {
        assert.ok(err instanceof UsageError, `a refused password is a UsageError (${String(err)})`);
        return false;
      },
    );
    assert.equal(accepted, policy.test(pw), `regex and accounts agree on a password of ${pw.length} characters`);
  }
  await assert.rejects(svc.accounts.setPassword('p3@kim.test', 'x'.repeat(1025)), UsageError);
});

test('with service.kim.enabled false the KIM paths are not served', async () => {
  const d = tempDir();
  const off = await startService(testConfig(d.path, { service: { kim: { enabled: false } } }), silentLogger());
  try {
    const r = await fetch(`http://127.0.0.1:${off.endpoints.http!.port}/ServiceInformation/v1.0/serviceinfo`);
    assert.equal(r.status, 404);
  } finally {
    await off.close();
    d.cleanup();
  }
});

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger } from '../../src/core/index.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { addCheapAccounts } from '../helpers/integration.js';
import { run } from '../helpers/process.js';
import { assertConforms, assertRequestConforms, kimApi } from '../helpers/openapi.js';

// gemSpec_CM_KOMLE A_22416 (getLimits: dataTimeToLive, maxMailSize, quota, remainQuota), checked
// against gematik's AccountLimit.yaml 1.1.4 and CommonSchemas.yaml 1.0.3 by openapi-backend.

const PASSWORD = 'Passw0rd!';
const A = 'praxis-a@kim.test';
const B = 'praxis-b@kim.test';
const OFF = 'praxis-off@kim.test';
const PATH = '/AccountLimit/v1.1/limit';

let svc: RunningService;
let base: string;
let dir: { path: string; cleanup(): void };

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function getLimits(authorization?: string) {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const r = await fetch(base + PATH, { headers });
  return { status: r.status, contentType: r.headers.get('content-type'), text: await r.text(), headers: r.headers };
}

before(async () => {
  dir = tempDir();
  // Four free failures, then a long penalty: the last test earns it, nothing before does.
  const config = testConfig(dir.path, {
    service: { loginThrottle: { freeFailures: 4, baseDelayMs: 60_000, maxDelayMs: 60_000 }, kim: { limitsMaxAgeSeconds: 600, defaults: { dataTimeToLiveDays: 90 } } },
  });
  svc = await startService(config, silentLogger());
  await svc.accounts.addDomain('kim.test');
  await addCheapAccounts(svc, [{ address: A }, { address: B }, { address: OFF }], PASSWORD);
  await svc.accounts.setQuota(A, 1_000_000);
  await svc.store.db.updateTable('accounts').set({ used_bytes: 250_000 }).where('address', '=', A).execute();
  await svc.accounts.setLimits(A, { dataTimeToLiveDays: 30, maxMailSize: 800_000_000 });
  await svc.accounts.setDisabled(OFF, true);
  base = `http://127.0.0.1:${svc.endpoints.http!.port}`;
});

after(async () => {
  await svc?.close();
  dir?.cleanup();
});

test('A_22416: getLimits answers the account\'s own limits, conforming to AccountLimit.yaml (status, content type, schema)', async () => {
  const authorization = basic(A, PASSWORD);
  await assertRequestConforms('AccountLimit.yaml', 'getLimits', '/AccountLimit/v1.1', { method: 'get', path: PATH, headers: { authorization } });
  const r = await getLimits(authorization);
  assert.equal(r.status, 200);
  assert.equal(r.contentType, 'application/json; charset=utf-8');
  const body = await assertConforms('AccountLimit.yaml', 'getLimits', r);
  assert.deepEqual(body, { dataTimeToLive: 30, maxMailSize: 800_000_000, quota: 1_000_000, remainQuota: 750_000 });
  // A client module may keep it for the configured time (A_22416 allows up to 24 h).
  assert.equal(r.headers.get('cache-control'), 'private, max-age=600');
  const expires = Date.parse(r.headers.get('expires')!);
  assert.ok(Math.abs(expires - (Date.now() + 600_000)) < 5000, 'Expires = now + max-age');
});

test('an account without limits of its own gets the configured defaults; no quota is -1 (unlimited)', async () => {
  const r = await getLimits(basic(B, PASSWORD));
  const body = await assertConforms('AccountLimit.yaml', 'getLimits', r);
  assert.deepEqual(body, { dataTimeToLive: 90, maxMailSize: 734_003_200, quota: -1, remainQuota: -1 });
});

test('curl -u: the KIMBasicAuth example of docs/kim-provider-apis.md', async () => {
  const r = await run('curl', ['-sS', '-u', `${A}:${PASSWORD}`, '-w', '\\n%{http_code} %{content_type}', base + PATH], { check: true });
  const [json, status] = r.stdout.trim().split('\n');
  assert.equal(status, '200 application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(json!), { dataTimeToLive: 30, maxMailSize: 800_000_000, quota: 1_000_000, remainQuota: 750_000 });
});

test('the admin API sets dataTimeToLive and maxMailSize (null: back to the default); out of KIM\'s bounds is 400', async () => {
  const patch = (body: unknown) =>
    fetch(`${base}/api/accounts/${encodeURIComponent(B)}`, { method: 'PATCH', headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  let r = await patch({ dataTimeToLive: 10, maxMailSize: 1_000_000_000 });
  assert.equal(r.status, 200);
  const view = (await r.json()) as { dataTimeToLive: number; maxMailSize: number };
  assert.equal(view.dataTimeToLive, 10);
  assert.equal(view.maxMailSize, 1_000_000_000);
  assert.deepEqual(await assertConforms('AccountLimit.yaml', 'getLimits', await getLimits(basic(B, PASSWORD))), { dataTimeToLive: 10, maxMailSize: 1_000_000_000, quota: -1, remainQuota: -1 });
  for (const bad of [{ dataTimeToLive: 9 }, { dataTimeToLive: 366 }, { dataTimeToLive: 30.5 }, { maxMailSize: 734_003_199 }, { dataTimeToLive: '30' }]) {
    r = await patch(bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    const problem = (await r.json()) as { title: string };
    assert.match(problem.title, /dataTimeToLive|maxMailSize/, JSON.stringify(bad));
  }
  r = await patch({ dataTimeToLive: null, maxMailSize: null });
  assert.equal(r.status, 200);
  assert.deepEqual(await assertConforms('AccountLimit.yaml', 'getLimits', await getLimits(basic(B, PASSWORD))), { dataTimeToLive: 90, maxMailSize: 734_003_200, quota: -1, remainQuota: -1 });
});

test('no credentials, a wrong password, an unknown and a disabled account: 401 with WWW-Authenticate Basic and the same Error body', async () => {
  const answers = [];
  for (const auth of [undefined, 'Bearer abc', basic(A, 'wrong-password'), basic('nobody@kim.test', PASSWORD), basic(OFF, PASSWORD)]) {
    const r = await getLimits(auth);
    assert.equal(r.status, 401, String(auth));
    assert.equal(r.headers.get('www-authenticate'), 'Basic realm="KIM", charset="UTF-8"');
    const body = (await assertConforms('AccountLimit.yaml', 'getLimits', r)) as { message: string; traceId: string };
    assert.match(body.traceId, /^[0-9a-f]{16}$/);
    answers.push(body.message);
  }
  // An unknown address is told apart from a wrong password by nothing (not 404: that would list the accounts).
  assert.equal(new Set(answers).size, 1, 'one message for every refusal');
});

test('wrong passwords earn the address the shared login throttle\'s penalty: then even the right password is 401 with Retry-After, unchecked', async () => {
  // Two failures happened in the test before (wrong password, unknown, disabled: three); two more pass the free four.
  let penalised = false;
  for (let i = 0; i < 3 && !penalised; i++) {
    const r = await getLimits(basic(B, `wrong-${i}`));
    assert.equal(r.status, 401);
    await assertConforms('AccountLimit.yaml', 'getLimits', r);
    penalised = svc.throttle.isPenalised('127.0.0.1');
  }
  assert.ok(penalised, 'the address is penalised after the free failures');
  const r = await getLimits(basic(B, PASSWORD));
  assert.equal(r.status, 401);
  assert.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After names the penalty');
  await assertConforms('AccountLimit.yaml', 'getLimits', r);
  // The penalty is the service's, shared with POP3 and SMTP AUTH of the same address.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /postamt_kim_getlimits_total\{result="penalised"\} 1/);
  assert.match(metrics, /postamt_kim_getlimits_total\{result="credentials"\} [4-6]/);
});

test('the validator is not a rubber stamp: bodies outside AccountLimit.yaml\'s schema are refused', async () => {
  const api = await kimApi('AccountLimit.yaml');
  for (const bad of [{ dataTimeToLive: 9 }, { dataTimeToLive: 366 }, { maxMailSize: 734_003_199 }, { quota: -2 }, { remainQuota: 'lots' }]) {
    assert.equal(api.validateResponse(bad, 'getLimits', 200).valid, false, JSON.stringify(bad));
  }
  assert.equal(api.validateResponse({ message: 'x', traceId: 'y'.repeat(256) }, 'getLimits', 401).valid, false, 'traceId at most 255');
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger } from '../../src/core/index.js';
import { SoftwareKonnektor, cardLoaderFromFiles, createTestPki, type KonnektorContext } from '../../src/crypto/index.js';
import { accountManagerJwt } from '../../src/clientmodule/account-manager-jwt.js';
import { Retention } from '../../src/service/index.js';
import { tempDir, testConfig } from '../helpers/env.js';
import { addCheapAccounts } from '../helpers/integration.js';

// The provider's view of KIM registrations and limits: GET /api/accounts/:address/kim and the
// registration/limits in GET /api/accounts, followed through a real registration by the
// Account Manager (the SMC-B-signed JWT of a software Konnektor), a deregistration, its date
// passing and the retention job's deletion.

const A = 'praxis-a@kim.test';
const B = 'praxis-b@kim.test';
const INITIAL = 'Initial-Passw0rd';
const C: KonnektorContext = { mandantId: 'a', clientSystemId: 'CM', workplaceId: '1' };
const AUD = 'https://accmgr.kim.test/AccountMgmt/v2.4';
const BASE = '/AccountMgmt/v2.4';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('admin API: KIM registrations and limits', () => {
  let pkiDir: { path: string; cleanup(): void };
  let dir: { path: string; cleanup(): void };
  let konnektor: SoftwareKonnektor;
  let svc: RunningService;
  let url: string;
  let config: ReturnType<typeof testConfig>;

  before(async () => {
    pkiDir = tempDir();
    await createTestPki({ dir: join(pkiDir.path, 'pki'), practices: [{ id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: A }], tlsNames: ['localhost'] });
    konnektor = new SoftwareKonnektor({ mandanten: [{ id: 'a', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-a' }, pkiDir.path) }], trustAnchors: [] });
    dir = tempDir();
    config = testConfig(dir.path, { service: { kim: { accountManager: { trustAnchors: [join(pkiDir.path, 'pki', 'ca.pem')], audiences: [AUD] } } } });
    svc = await startService(config, silentLogger());
    await svc.accounts.addDomain('kim.test');
    await addCheapAccounts(svc, [{ address: A }, { address: B }], INITIAL);
    await svc.accounts.setTelematikId(A, '1-20014711');
    url = `http://127.0.0.1:${svc.endpoints.http!.port}`;
  });

  after(async () => {
    await svc?.close();
    dir?.cleanup();
    pkiDir?.cleanup();
  });

  const admin = (path: string, init: RequestInit = {}) => fetch(url + '/api' + path, { ...init, headers: { authorization: `Bearer ${svc.adminToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const kim = async (address: string) => {
    const r = await admin(`/accounts/${encodeURIComponent(address)}/kim`);
    assert.equal(r.status, 200);
    return (await r.json()) as { address: string; telematikId: string | null; registration: Record<string, unknown>; limits: Record<string, number>; own: Record<string, unknown> };
  };
  const accountManager = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const h: Record<string, string> = { authorization: `Bearer ${await accountManagerJwt(konnektor, C, { audience: AUD })}`, ...headers };
    if (body !== undefined) h['content-type'] = 'application/json; charset=utf-8';
    return (await fetch(url + BASE + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })).status;
  };

  test('no token or a wrong one: 401 for the KIM view too, and nothing about the account in the answer', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }] as Array<Record<string, string>>) {
      const r = await fetch(`${url}/api/accounts/${encodeURIComponent(A)}/kim`, { headers });
      assert.equal(r.status, 401);
      assert.doesNotMatch(await r.text(), /praxis-a|20014711/);
    }
  });

  test('created → registered → deregistration pending (with its date) → deleted → gone, each with the Telematik-ID and the last change', async () => {
    const created = await kim(A);
    assert.deepEqual(created.registration, { state: 'created', kimVersion: null, referenceID: null, deregDate: null, changedAt: null });
    assert.equal(created.telematikId, '1-20014711');

    const before = Date.now();
    assert.equal(await accountManager('POST', '/account', { iniPassword: b64(INITIAL) }, { username: A, password: b64('New-Passw0rd-1'), kimVersion: '1.5', referenceID: 'V-4711' }), 204);
    const registered = await kim(A);
    assert.equal(registered.registration['state'], 'registered');
    assert.equal(registered.registration['kimVersion'], '1.5');
    assert.equal(registered.registration['referenceID'], 'V-4711');
    const changed = Date.parse(String(registered.registration['changedAt']));
    assert.ok(changed >= before - 1000 && changed <= Date.now() + 1000, 'the last change is the registration');

    assert.equal(await accountManager('DELETE', `/account/${encodeURIComponent(A)}`, { password: b64('New-Passw0rd-1') }), 204);
    const pending = await kim(A);
    assert.equal(pending.registration['state'], 'deregistration-pending');
    const date = Date.parse(String(pending.registration['deregDate']));
    assert.ok(Math.abs(date - (Date.now() + 30 * 86_400_000)) < 60_000, 'deregDate 30 days ahead, as ISO 8601');

    // The date passing, as the Account Manager test has it: the row's date set into the past.
    await svc.store.db.updateTable('accounts').set({ kim_dereg_date: Math.floor(Date.now() / 1000) - 1 }).where('address', '=', A).execute();
    assert.equal((await kim(A)).registration['state'], 'deleted');
    const list = (await (await admin('/accounts')).json()) as Array<{ address: string; registration: { state: string } }>;
    assert.deepEqual(list.map((a) => [a.address, a.registration.state]), [[A, 'deleted'], [B, 'created']]);

    await new Retention(svc.store.db, svc.mailboxes, { defaultDays: 90, batchSize: 100, logger: silentLogger(), deregistered: svc.accountManager }).run();
    const gone = await admin(`/accounts/${encodeURIComponent(A)}/kim`);
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { title: string }).title, /praxis-a@kim\.test/);
  });

  test('limits: the defaults applied, own values marked; a PATCH changes them and the view follows; quota and used in bytes', async () => {
    const d = config.service.kim.defaults;
    const first = await kim(B);
    assert.deepEqual(first.limits, { dataTimeToLive: d.dataTimeToLiveDays, maxMailSize: d.maxMailSize, quota: -1, remainQuota: -1, used: 0 });
    assert.deepEqual(first.own, { dataTimeToLive: null, maxMailSize: null });
    const patched = await admin(`/accounts/${encodeURIComponent(B)}`, { method: 'PATCH', body: JSON.stringify({ dataTimeToLive: 30, maxMailSize: 1_073_741_824, quotaBytes: 5_000_000 }) });
    assert.equal(patched.status, 200);
    const body = (await patched.json()) as { limits: Record<string, number>; registration: { state: string } };
    assert.deepEqual(body.limits, { dataTimeToLive: 30, maxMailSize: 1_073_741_824, quota: 5_000_000, remainQuota: 5_000_000, used: 0 });
    assert.equal(body.registration.state, 'created');
    assert.deepEqual((await kim(B)).own, { dataTimeToLive: 30, maxMailSize: 1_073_741_824 });
    const bad = await admin(`/accounts/${encodeURIComponent(B)}`, { method: 'PATCH', body: JSON.stringify({ dataTimeToLive: 5 }) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { title: string }).title, /dataTimeToLive/);
  });

  test('an unknown address is 404 problem JSON; a malformed one too', async () => {
    for (const a of ['nobody@kim.test', 'not an address']) {
      const r = await admin(`/accounts/${encodeURIComponent(a)}/kim`);
      assert.equal(r.status, 404, a);
      assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
  });
});

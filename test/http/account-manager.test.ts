import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startService, type RunningService } from '../../src/roles/index.js';
import { silentLogger } from '../../src/core/index.js';
import { SoftwareKonnektor, cardLoaderFromFiles, createTestPki, type KonnektorContext } from '../../src/crypto/index.js';
import { accountManagerJwt } from '../../src/clientmodule/account-manager-jwt.js';
import { Retention } from '../../src/service/index.js';
import { STORE_KINDS, tempDir, testConfig, testDatabase, type StoreKind } from '../helpers/env.js';
import { addCheapAccounts } from '../helpers/integration.js';
import { assertConforms, assertRequestConforms } from '../helpers/openapi.js';

// KIM's I_AccountManager_Service (AccountManager.yaml 2.4.0) on the service's HTTP listener,
// with the JWT of gemSpec_CM_KOMLE A_19457-02 built by the Administrationsmodul function over a
// software Konnektor (ExternalAuthenticate with the SMC-B's C.HCI.AUT key); every request and
// answer checked against gematik's document by openapi-backend; on SQLite and PostgreSQL.

const DOC = 'AccountManager.yaml';
const BASE = '/AccountMgmt/v2.4';
const INITIAL = 'Initial-Passw0rd';
const A = 'praxis-a@kim.test';
const C: KonnektorContext = { mandantId: 'a', clientSystemId: 'CM', workplaceId: '1' };
const CB: KonnektorContext = { mandantId: 'b', clientSystemId: 'CM', workplaceId: '1' };
const AUD = 'https://accmgr.kim.test/AccountMgmt/v2.4';
const GONE = 'praxis-gone@kim.test';

let pkiDir: { path: string; cleanup(): void };
let konnektor: SoftwareKonnektor;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

before(async () => {
  pkiDir = tempDir();
  await createTestPki({
    dir: join(pkiDir.path, 'pki'),
    practices: [
      { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: A },
      { id: 'praxis-b', name: 'Praxis B', telematikId: '1-20014712', email: 'praxis-b@kim.test' },
    ],
    tlsNames: ['localhost'],
  });
  konnektor = new SoftwareKonnektor({
    mandanten: [
      { id: 'a', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-a' }, pkiDir.path) },
      { id: 'b', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-b' }, pkiDir.path) },
    ],
    trustAnchors: [],
  });
});

after(() => pkiDir?.cleanup());

for (const kind of STORE_KINDS) describe(`Account Manager (${kind})`, () => suite(kind));

function suite(kind: StoreKind): void {
  let svc: RunningService;
  let url: string;
  let dir: { path: string; cleanup(): void };
  let drop: (() => Promise<void>) | undefined;
  let skip = false;

  before(async () => {
    const db = await testDatabase(kind);
    if (!db) {
      skip = true;
      return;
    }
    drop = db.drop;
    dir = tempDir();
    const config = testConfig(dir.path, { database: { url: db.url }, service: { kim: { accountManager: { trustAnchors: [join(pkiDir.path, 'pki', 'ca.pem')], audiences: [AUD] } } } });
    svc = await startService(config, silentLogger());
    await svc.accounts.addDomain('kim.test');
    await addCheapAccounts(svc, [{ address: A }, { address: GONE }], INITIAL);
    await svc.accounts.setTelematikId(A, '1-20014711');
    await svc.accounts.setTelematikId(GONE, '1-20014711');
    url = `http://127.0.0.1:${svc.endpoints.http!.port}`;
  });

  after(async () => {
    await svc?.close();
    await drop?.();
    dir?.cleanup();
  });

  interface Call {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: unknown;
    raw?: string;
  }

  /** Sends the call; checks the request (when well-formed) and the answer against the document. */
  async function call(operationId: string, c: Call, jwt?: string, opts: { checkRequest?: boolean } = {}) {
    const token = jwt ?? (await accountManagerJwt(konnektor, C, { audience: AUD }));
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(c.headers ?? {}) };
    const body = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
    if (body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
    if (opts.checkRequest !== false) await assertRequestConforms(DOC, operationId, BASE, { method: c.method.toLowerCase(), path: c.path, headers, body: c.body });
    const r = await fetch(url + c.path, { method: c.method, headers, body });
    const res = { status: r.status, contentType: r.headers.get('content-type'), text: await r.text() };
    const parsed = await assertConforms(DOC, operationId, res);
    return { status: res.status, body: parsed as Record<string, unknown> | undefined };
  }

  const path = (u = A, tail = '') => `${BASE}/account/${encodeURIComponent(u)}${tail}`;
  const pw = (p: string) => ({ password: b64(p) });

  test('A_19457-02, A_19464-03: register → getAccount → setAccount → deregister → revokeDeregistration, each as AccountManager.yaml says', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    const reg = await call('registerAccount', { method: 'POST', path: `${BASE}/account`, headers: { iniPassword: b64(INITIAL) }, body: { username: A, password: b64('New-Passw0rd-1'), kimVersion: '1.5+', referenceID: 'V-4711', dataTimeToLive: 60 } });
    assert.equal(reg.status, 204);
    const again = await call('registerAccount', { method: 'POST', path: `${BASE}/account`, headers: { iniPassword: b64('New-Passw0rd-1') }, body: { username: A } });
    assert.equal(again.status, 409, 'registered once only');

    const got = await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-1') });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, { username: A, referenceID: 'V-4711', kimVersion: '1.5+', regStat: 'registered', dataTimeToLive: 60, maxMailSize: 734_003_200 });

    assert.equal((await call('setAccount', { method: 'PUT', path: path(), headers: pw('New-Passw0rd-1'), body: { kimVersion: '1.5', password: b64('New-Passw0rd-2') } })).status, 204);
    assert.equal((await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-1') })).status, 401, 'the old password no longer opens it');
    assert.equal((await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-2') })).body!['kimVersion'], '1.5');
    assert.equal((await call('setAccount', { method: 'PUT', path: path(), headers: pw('New-Passw0rd-2'), body: { kimVersion: '9.9' } })).status, 422);
    assert.equal((await call('setAccount', { method: 'PUT', path: path(), headers: pw('New-Passw0rd-2'), body: { password: b64('short') } })).status, 420);

    assert.equal((await call('revokeDeregistration', { method: 'PUT', path: path(A, '/revokeDeregistration'), headers: pw('New-Passw0rd-2') })).status, 403, 'not deregistered yet');
    assert.equal((await call('deregisterAccount', { method: 'DELETE', path: path(), headers: pw('New-Passw0rd-2') })).status, 204);
    const dereg = await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-2') });
    assert.equal(dereg.body!['regStat'], 'deregistered');
    const date = dereg.body!['deregDate'] as number;
    assert.ok(Math.abs(date - (Date.now() / 1000 + 30 * 86_400)) < 60, 'deregDate 30 days ahead (A_19464-03)');
    assert.equal((await call('revokeDeregistration', { method: 'PUT', path: path(A, '/revokeDeregistration'), headers: pw('New-Passw0rd-2') })).status, 204);
    const back = await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-2') });
    assert.equal(back.body!['regStat'], 'registered');
    assert.equal(back.body!['deregDate'], undefined);
    assert.equal((await call('getAccount', { method: 'GET', path: path('nobody@kim.test'), headers: pw('x-Passw0rd') })).status, 404);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /postamt_kim_accountmanager_total\{op="registerAccount",status="204"\} 1/);
    assert.match(metrics, /postamt_kim_accountmanager_total\{op="getAccount",status="404"\} 1/);
  });

  test('A_19457-02: bad JWTs — expired, wrong key, wrong audience, other Telematik-ID, replayed, none — are 401 with the Error body', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    const get = (jwt: string) => call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-2') }, jwt);
    const expired = await accountManagerJwt(konnektor, C, { now: Math.floor(Date.now() / 1000) - 3600, lifetimeSeconds: 300 });
    assert.equal((await get(expired)).status, 401);
    // x5c says praxis A, the signature is praxis B's key.
    const good = await accountManagerJwt(konnektor, C);
    const [h, p] = good.split('.') as [string, string];
    const foreignSig = await konnektor.externalAuthenticate(CB, { hash: createHash('sha256').update(`${h}.${p}`).digest() });
    const r1 = await get(`${h}.${p}.${Buffer.from(foreignSig).toString('base64url')}`);
    assert.equal(r1.status, 401);
    assert.match(String(r1.body!['message']), /signature/);
    assert.equal((await get(await accountManagerJwt(konnektor, C, { audience: 'https://other.example/AccountMgmt/v2.4' }))).status, 401);
    const other = await get(await accountManagerJwt(konnektor, CB));
    assert.equal(other.status, 401);
    assert.match(String(other.body!['message']), /Telematik-ID/);
    const once = await accountManagerJwt(konnektor, C);
    assert.equal((await get(once)).status, 200);
    const replay = await get(once);
    assert.equal(replay.status, 401);
    assert.match(String(replay.body!['message']), /replay/);
    const none = await fetch(url + path(), { headers: pw('New-Passw0rd-2') });
    assert.equal(none.status, 401);
    await assertConforms(DOC, 'getAccount', { status: none.status, contentType: none.headers.get('content-type'), text: await none.text() });
  });

  test('an unknown field, a body that is not JSON and an oversized body are 400 with the Error body', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    const unknown = await call('setAccount', { method: 'PUT', path: path(), headers: pw('New-Passw0rd-2'), body: { kimVersoin: '1.5' } }, undefined, { checkRequest: false });
    assert.equal(unknown.status, 400);
    assert.match(String(unknown.body!['message']), /kimVersoin/);
    assert.equal((await call('setAccount', { method: 'PUT', path: path(), headers: pw('New-Passw0rd-2'), raw: '{"kimVersion":' }, undefined, { checkRequest: false })).status, 400);
    const big = await call('setAccount', { method: 'PUT', path: path(), headers: pw('New-Passw0rd-2'), raw: JSON.stringify({ referenceID: 'x'.repeat(20_000) }) }, undefined, { checkRequest: false });
    assert.equal(big.status, 400);
    assert.equal((await call('getAccount', { method: 'GET', path: path(), headers: { password: 'not base64!' } }, undefined, { checkRequest: false })).status, 400);
  });

  test('A_21380: updateOutOfOffice stores the note, getOutOfOffice answers it; a bad date is 400', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    const p = path(A, '/outofoffice');
    assert.deepEqual((await call('getOutOfOffice', { method: 'GET', path: p, headers: pw('New-Passw0rd-2') })).body, {});
    const note = { startDate: '2026-07-20T17:32:28Z', endDate: '2026-07-28T17:32:28Z', message: 'Praxis geschlossen – Vertretung: Praxis B', active: true };
    assert.equal((await call('updateOutOfOffice', { method: 'PUT', path: p, headers: pw('New-Passw0rd-2'), body: note })).status, 204);
    assert.deepEqual((await call('getOutOfOffice', { method: 'GET', path: p, headers: pw('New-Passw0rd-2') })).body, note);
    assert.equal((await call('updateOutOfOffice', { method: 'PUT', path: p, headers: pw('New-Passw0rd-2'), body: { startDate: 'tomorrow' } }, undefined, { checkRequest: false })).status, 400);
    assert.equal((await call('updateOutOfOffice', { method: 'PUT', path: p, headers: pw('New-Passw0rd-2'), body: { ...note, endDate: '2026-07-01T00:00:00Z' } })).status, 400, 'endDate before startDate');
  });

  test('porting: getOTP with the old card, setTID with the new card moves the address to its Telematik-ID; a wrong or expired OTP is 403 / 408', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    const otpRes = await call('getOTP', { method: 'GET', path: path(A, '/OTP'), headers: pw('New-Passw0rd-2') });
    assert.equal(otpRes.status, 200);
    const otp = Buffer.from(String(otpRes.body!['otp']), 'base64').toString('utf8');
    const withB = () => accountManagerJwt(konnektor, CB, { audience: AUD });
    assert.equal((await call('setTID', { method: 'PUT', path: path(A, '/telematikID'), headers: { ...pw('New-Passw0rd-2'), otp: b64('wrong-otp') } }, await withB())).status, 403);
    await svc.store.db.updateTable('accounts').set({ kim_otp_expires: 1 }).where('address', '=', A).execute();
    assert.equal((await call('setTID', { method: 'PUT', path: path(A, '/telematikID'), headers: { ...pw('New-Passw0rd-2'), otp: b64(otp) } }, await withB())).status, 408);
    const fresh = Buffer.from(String((await call('getOTP', { method: 'GET', path: path(A, '/OTP'), headers: pw('New-Passw0rd-2') })).body!['otp']), 'base64').toString('utf8');
    assert.equal((await call('setTID', { method: 'PUT', path: path(A, '/telematikID'), headers: { ...pw('New-Passw0rd-2'), otp: b64(fresh) } }, await withB())).status, 204);
    assert.equal((await svc.accounts.get(A)).telematikId, '1-20014712');
    assert.equal((await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-2') })).status, 401, "the old card's JWT no longer fits");
    assert.equal((await call('getAccount', { method: 'GET', path: path(), headers: pw('New-Passw0rd-2') }, await withB())).status, 200);
    assert.equal((await call('setTID', { method: 'PUT', path: path(A, '/telematikID'), headers: { ...pw('New-Passw0rd-2'), otp: b64(fresh) } }, await withB())).status, 403, 'an OTP is used once');
  });

  test('A_19464-03: past its deregistration date an account is 404, too late to revoke, and the retention run deletes it', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    assert.equal((await call('registerAccount', { method: 'POST', path: `${BASE}/account`, headers: { iniPassword: b64(INITIAL) }, body: { username: GONE } })).status, 204);
    assert.equal((await call('deregisterAccount', { method: 'DELETE', path: path(GONE), headers: pw(INITIAL) })).status, 204);
    assert.ok(await svc.accounts.find(GONE), 'still there within the 30 days');
    await svc.store.db.updateTable('accounts').set({ kim_dereg_date: Math.floor(Date.now() / 1000) - 1 }).where('address', '=', GONE).execute();
    assert.equal((await call('revokeDeregistration', { method: 'PUT', path: path(GONE, '/revokeDeregistration'), headers: pw(INITIAL) })).status, 404, 'too late to revoke');
    const run = await new Retention(svc.store.db, svc.mailboxes, { defaultDays: 90, batchSize: 100, logger: silentLogger(), deregistered: svc.accountManager }).run();
    assert.equal(run.deregistered, 1);
    assert.equal(await svc.accounts.find(GONE), undefined);
  });

  test('createCert without a CA configured (service.kim.accountManager.clientCertificates): 500 with the Error body saying so', async (t) => {
    if (skip) return t.skip('POSTAMT_TEST_SKIP_PG=1');
    const r = await call('createCert', { method: 'POST', path: path(A, '/cert'), headers: pw('New-Passw0rd-2'), body: { commonName: 'Praxis A' } }, await accountManagerJwt(konnektor, CB));
    assert.equal(r.status, 500);
    assert.match(String(r.body!['message']), /createCert/);
  });
}

test("wrong passwords count against the client address in the service's login throttle: once penalised, 401 with Retry-After without a check", async () => {
  const d = tempDir();
  const s = await startService(
    testConfig(d.path, { service: { loginThrottle: { freeFailures: 2, baseDelayMs: 60_000, maxDelayMs: 60_000 }, kim: { accountManager: { trustAnchors: [join(pkiDir.path, 'pki', 'ca.pem')] } } } }),
    silentLogger(),
  );
  try {
    await s.accounts.addDomain('kim.test');
    await addCheapAccounts(s, [{ address: A }], INITIAL);
    await s.accounts.setTelematikId(A, '1-20014711');
    const u = `http://127.0.0.1:${s.endpoints.http!.port}${BASE}/account/${encodeURIComponent(A)}`;
    const get = async (password: string) => fetch(u, { headers: { authorization: `Bearer ${await accountManagerJwt(konnektor, C)}`, password: b64(password) } });
    for (let i = 0; i < 3; i++) assert.equal((await get('wrong-Passw0rd')).status, 401);
    const blocked = await get(INITIAL);
    assert.equal(blocked.status, 401, 'the right password does not help while penalised');
    assert.ok(Number(blocked.headers.get('retry-after')) > 0);
    assert.match(((await blocked.json()) as { message: string }).message, /too many failed attempts/);
    // Another card's JWT is refused before the password is looked at: it tells nothing about it.
    const other = await fetch(u, { headers: { authorization: `Bearer ${await accountManagerJwt(konnektor, CB)}`, password: b64(INITIAL) } });
    assert.equal(other.status, 401);
  } finally {
    await s.close();
    d.cleanup();
  }
});

test('initialPasswordRequired: false (ServiceInformation) — registerAccount takes the card alone; another card is still 401', async () => {
  const d = tempDir();
  const s = await startService(testConfig(d.path, { service: { kim: { serviceInformation: { initialPasswordRequired: false }, accountManager: { trustAnchors: [join(pkiDir.path, 'pki', 'ca.pem')] } } } }), silentLogger());
  try {
    await s.accounts.addDomain('kim.test');
    await addCheapAccounts(s, [{ address: A }], INITIAL);
    await s.accounts.setTelematikId(A, '1-20014711');
    const register = async (ctx: KonnektorContext) =>
      fetch(`http://127.0.0.1:${s.endpoints.http!.port}${BASE}/account`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await accountManagerJwt(konnektor, ctx)}`, inipassword: b64('not-the-initial-one'), 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ username: A, password: b64('New-Passw0rd-9') }),
      });
    assert.equal((await register(CB)).status, 401);
    assert.equal((await register(C)).status, 204);
    assert.ok(await s.accounts.authenticate(A, 'New-Passw0rd-9'), 'the new password is set');
  } finally {
    await s.close();
    d.cleanup();
  }
});

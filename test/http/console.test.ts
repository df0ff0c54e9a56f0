import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfig } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { createLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';
import { CONSOLE_CSP, ConsoleSessions } from '../../src/http/index.js';
import { sessionCookie } from '../../src/http/console/cookie.js';
import { PASSWORD, submit, type Provider } from '../helpers/relay.js';

/** An HTTP exchange with Node's fetch (undici: a client that is not ours). */
async function http(base: string, method: string, path: string, opts: { cookie?: string; csrf?: string; bearer?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.csrf !== undefined) headers['x-csrf-token'] = opts.csrf;
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(base + path, { method, headers, body: opts.body === undefined ? null : JSON.stringify(opts.body), redirect: 'manual' });
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

async function signIn(base: string, token: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await http(base, 'POST', '/console/api/login', { body: { token } });
  assert.equal(r.status, 200, r.text);
  const setCookie = r.headers.get('set-cookie')!;
  return { cookie: setCookie.split(';')[0]!, csrf: r.json.csrfToken as string, setCookie };
}

describe('admin console: sign-in, sessions, CSRF, headers', () => {
  const d = tempDir();
  let svc: RunningService;
  let base: string;
  before(async () => {
    svc = await startService(testConfig(d.path, { service: { http: { console: { loginFailureDelayMs: 200, sampleMs: 1000 } } } }), createLogger('silent'));
    await svc.accounts.addDomain('praxis.test');
    await svc.accounts.add({ address: 'anna@praxis.test', password: PASSWORD, displayName: 'Anna' });
    base = `http://127.0.0.1:${svc.endpoints.http!.port}`;
  });
  after(async () => {
    await svc.close();
    d.cleanup();
  });

  test('without a session: every console API and admin API answers 401, no data', async () => {
    for (const [m, p] of [
      ['GET', '/console/api/session'],
      ['POST', '/console/api/logout'],
      ['GET', '/api/accounts'],
      ['GET', '/api/stats'],
      ['GET', '/api/status'],
      ['GET', '/api/queue'],
      ['POST', '/api/accounts'],
    ] as const) {
      const r = await http(base, m, p, m === 'POST' ? { body: {} } : {});
      assert.equal(r.status, 401, `${m} ${p}`);
      assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.doesNotMatch(r.text, /anna@/);
    }
    // A made-up or expired cookie is no better than none.
    const r = await http(base, 'GET', '/api/accounts', { cookie: 'postamt_console=' + 'A'.repeat(43) });
    assert.equal(r.status, 401);
    assert.match(r.json.title, /session has ended/);
  });

  test('the app shell and its assets carry the strict CSP, nosniff and no-referrer; no inline script or style', async () => {
    const page = await http(base, 'GET', '/console/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    const assets = [...page.text.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), page.text);
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>|<style|\bstyle=/i);
    for (const r of [page, await http(base, 'GET', assets[0]!), await http(base, 'GET', '/console/api/session')]) {
      assert.equal(r.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    }
    assert.equal((await http(base, 'GET', '/console')).headers.get('location'), '/console/');
  });

  test('a wrong token: 401 after the failure delay, no cookie', async () => {
    const t0 = performance.now();
    const r = await http(base, 'POST', '/console/api/login', { body: { token: 'not-the-token-not-the-token' } });
    assert.equal(r.status, 401);
    assert.ok(performance.now() - t0 >= 190, 'answered after the delay');
    assert.equal(r.headers.get('set-cookie'), null);
    for (const body of [{}, { token: 42 }, 'token']) assert.equal((await http(base, 'POST', '/console/api/login', { body })).status, 401);
  });

  test('sign-in: the cookie is HttpOnly, SameSite=Strict, Path=/, not Secure on loopback HTTP; the session answers its CSRF token', async () => {
    const s = await signIn(base, svc.adminToken);
    assert.match(s.setCookie, /^postamt_console=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    assert.equal(s.csrf.length, 43);
    const r = await http(base, 'GET', '/console/api/session', { cookie: s.cookie });
    assert.equal(r.status, 200);
    assert.equal(r.json.csrfToken, s.csrf);
    assert.ok(Date.parse(r.json.expiresAt) > Date.now());
    assert.equal(sessionCookie('x', { secure: true }), 'postamt_console=x; HttpOnly; SameSite=Strict; Path=/; Secure');
  });

  test('with the cookie, reads need no CSRF token; a change needs x-csrf-token (403 without or wrong, done with it)', async () => {
    const s = await signIn(base, svc.adminToken);
    const list = await http(base, 'GET', '/api/accounts', { cookie: s.cookie });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.map((a: { address: string }) => a.address), ['anna@praxis.test']);
    for (const csrf of [undefined, '', 'x'.repeat(43)]) {
      const r = await http(base, 'PATCH', '/api/accounts/anna@praxis.test', { cookie: s.cookie, ...(csrf === undefined ? {} : { csrf }), body: { disabled: true } });
      assert.equal(r.status, 403);
      assert.match(r.json.title, /x-csrf-token/);
    }
    assert.equal((await svc.accounts.get('anna@praxis.test')).disabled, false);
    const ok = await http(base, 'PATCH', '/api/accounts/anna@praxis.test', { cookie: s.cookie, csrf: s.csrf, body: { disabled: true } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.disabled, true);
    assert.equal((await http(base, 'PATCH', '/api/accounts/anna@praxis.test', { cookie: s.cookie, csrf: s.csrf, body: { disabled: false } })).json.disabled, false);
    // Another session's token does not fit.
    const other = await signIn(base, svc.adminToken);
    assert.equal((await http(base, 'PATCH', '/api/accounts/anna@praxis.test', { cookie: s.cookie, csrf: other.csrf, body: { disabled: true } })).status, 403);
  });

  test('the bearer token still works as before, and a wrong one is refused even beside a valid cookie', async () => {
    const s = await signIn(base, svc.adminToken);
    assert.equal((await http(base, 'GET', '/api/accounts', { bearer: svc.adminToken })).status, 200);
    assert.equal((await http(base, 'GET', '/api/accounts', { bearer: 'wrong-token-wrong-token', cookie: s.cookie })).status, 401);
  });

  test('sign-out needs the CSRF token and ends the session', async () => {
    const s = await signIn(base, svc.adminToken);
    assert.equal((await http(base, 'POST', '/console/api/logout', { cookie: s.cookie })).status, 403);
    const r = await http(base, 'POST', '/console/api/logout', { cookie: s.cookie, csrf: s.csrf });
    assert.equal(r.status, 204);
    assert.match(r.headers.get('set-cookie')!, /^postamt_console=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    assert.equal((await http(base, 'GET', '/api/accounts', { cookie: s.cookie })).status, 401);
  });

  test('accounts and domains through the admin API: add, search, change; bad bodies are 400 naming the field', async () => {
    const s = await signIn(base, svc.adminToken);
    const w = { cookie: s.cookie, csrf: s.csrf };
    assert.equal((await http(base, 'POST', '/api/domains', { ...w, body: { name: 'zweite.test' } })).status, 201);
    assert.equal((await http(base, 'POST', '/api/domains', { ...w, body: { name: 'zweite.test' } })).status, 409);
    const add = await http(base, 'POST', '/api/accounts', { ...w, body: { address: 'bert@zweite.test', password: 'ein-langes-passwort', displayName: 'Dr. Bert', quotaBytes: 1_000_000 } });
    assert.equal(add.status, 201, add.text);
    assert.deepEqual([add.json.address, add.json.displayName, add.json.quotaBytes, add.json.disabled], ['bert@zweite.test', 'Dr. Bert', 1_000_000, false]);
    assert.doesNotMatch(add.text, /passwort/);
    for (const [body, field] of [
      [{ address: 'x@zweite.test', password: 'short' }, /^password: /],
      [{ address: 'x@zweite.test', password: 'long-enough', extra: 1 }, /extra|unrecognized/i],
      [{ address: 'x@zweite.test', password: 'long-enough', quotaBytes: -1 }, /^quotaBytes: /],
      [{ address: 'x@nowhere.test', password: 'long-enough' }, /not a local domain/],
      [{ address: 'kein-at', password: 'long-enough' }, /not a valid mail address/],
    ] as const) {
      const r = await http(base, 'POST', '/api/accounts', { ...w, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(r.json.title, field);
    }
    const search = await http(base, 'GET', '/api/accounts?q=BERT', { cookie: s.cookie });
    assert.deepEqual(search.json.map((a: { address: string }) => a.address), ['bert@zweite.test']);
    const changed = await http(base, 'PATCH', '/api/accounts/bert@zweite.test', { ...w, body: { displayName: 'Dr. Bert Beispiel', quotaBytes: 0, password: 'ein-neues-passwort' } });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual([changed.json.displayName, changed.json.quotaBytes], ['Dr. Bert Beispiel', 0]);
    assert.ok(await svc.accounts.authenticate('bert@zweite.test', 'ein-neues-passwort'));
    assert.equal((await http(base, 'PATCH', '/api/accounts/bert@zweite.test', { ...w, body: {} })).status, 400);
    assert.equal((await http(base, 'PATCH', '/api/accounts/bert@zweite.test', { ...w, body: { displayName: 'a\u0007b' } })).status, 400);
    assert.equal((await http(base, 'PATCH', '/api/accounts/niemand@zweite.test', { ...w, body: { disabled: true } })).status, 404);
  });

  test('GET /api/stats: samples of the /metrics counters after SMTP traffic; /api/status lists the listeners', async () => {
    const s = await signIn(base, svc.adminToken);
    const provider = { svc } as Provider;
    await submit(provider, 'anna@praxis.test', ['anna@praxis.test'], { subject: 'Statistik' });
    const sample = await until('a sample with the message', async () => {
      const r = await http(base, 'GET', '/api/stats', { cookie: s.cookie });
      assert.equal(r.status, 200);
      assert.equal(r.json.sampleMs, 1000);
      return (r.json.samples as Array<Record<string, number | null>>).find((x) => (x.accepted as number) > 0);
    });
    assert.equal(sample.accepted, 1);
    assert.equal(sample.delivered, 1);
    assert.equal(sample.queueDepth, 0);
    assert.ok(typeof sample.p50 === 'number' && sample.p50 >= 0);
    assert.match(svc.metrics.render(), /postamt_local_deliveries_total 1/);
    assert.match(svc.metrics.render(), /postamt_relay_queue_depth 0/);
    const st = await http(base, 'GET', '/api/status', { cookie: s.cookie });
    assert.equal(st.json.health.ok, true);
    assert.deepEqual(
      (st.json.listeners as Array<{ name: string }>).map((l) => l.name).sort(),
      Object.keys(svc.endpoints).sort(),
    );
  });
});

describe('admin console: failed sign-ins per client are limited', () => {
  const d = tempDir();
  let svc: RunningService;
  let base: string;
  before(async () => {
    svc = await startService(testConfig(d.path, { service: { http: { console: { loginFailureDelayMs: 10, loginThrottle: { freeFailures: 2, baseDelayMs: 60_000 } } } } }), createLogger('silent'));
    base = `http://127.0.0.1:${svc.endpoints.http!.port}`;
  });
  after(async () => {
    await svc.close();
    d.cleanup();
  });

  test('after the free failures: 429 with Retry-After, even for the right token', async () => {
    const wrong = { body: { token: 'wrong-token-wrong-token' } };
    assert.equal((await http(base, 'POST', '/console/api/login', wrong)).status, 401);
    assert.equal((await http(base, 'POST', '/console/api/login', wrong)).status, 401);
    assert.equal((await http(base, 'POST', '/console/api/login', wrong)).status, 401, 'the third failure is answered, and earns the penalty');
    const r = await http(base, 'POST', '/console/api/login', { body: { token: svc.adminToken } });
    assert.equal(r.status, 429);
    assert.match(r.json.title, /too many failed sign-ins/);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal(r.headers.get('set-cookie'), null);
  });
});

describe('console sessions: idle and absolute expiry, bounded count', () => {
  test('a session ends when idle too long, at its absolute limit, and the least recently used goes first when full', () => {
    let now = 0;
    const s = new ConsoleSessions({ idleMs: 100, maxMs: 250, maxSessions: 2, now: () => now });
    const a = s.create();
    now = 90;
    assert.ok(s.use(a.id));
    now = 180;
    assert.ok(s.use(a.id), 'used within idleMs: still alive');
    now = 240;
    assert.ok(s.use(a.id));
    now = 250;
    assert.equal(s.use(a.id), undefined, 'absolute limit');
    const b = s.create();
    now = 351;
    assert.equal(s.use(b.id), undefined, 'idle limit');
    const c = s.create();
    const e = s.create();
    assert.ok(s.use(c.id));
    const f = s.create();
    assert.equal(s.size, 2);
    assert.equal(s.use(e.id), undefined, 'evicted: unused longest');
    assert.ok(s.use(c.id) && s.use(f.id));
    assert.equal(s.use(undefined), undefined);
    assert.equal(s.use('x'.repeat(500)), undefined);
  });
});

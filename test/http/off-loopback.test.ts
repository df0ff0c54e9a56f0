import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { networkInterfaces } from 'node:os';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { startDemo, startService, type RunningDemo, type RunningService } from '../../src/roles/index.js';

/** This machine's first IPv4 address that is not loopback, if it has one. */
function offLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

const TOKEN = 'admin-token-for-the-off-loopback-test';

/** One HTTPS POST with a JSON body: the status and the Set-Cookie headers. */
function postJson(host: string, port: number, path: string, json: unknown, ca: string): Promise<{ status: number; setCookie: string[] }> {
  const body = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        ca,
        // The platform's certificate names the host by name, not by this address; the test is about the cookie.
        checkServerIdentity: () => undefined,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function assertSecureCookie(setCookie: string[], name: string): void {
  const cookie = setCookie.find((c) => c.startsWith(`${name}=`));
  assert.ok(cookie, 'a session cookie');
  for (const flag of ['HttpOnly', 'SameSite=Strict', 'Secure']) assert.ok(cookie.split('; ').includes(flag), `${flag} in ${cookie.replace(/=[^;]+/, '=…')}`);
}

describe('admin console off loopback: HTTPS, and the session cookie is Secure', () => {
  const host = offLoopbackAddress();
  const d = tempDir();
  let svc: RunningService | undefined;
  before(async () => {
    if (!host) return;
    svc = await startService(testConfig(d.path, { service: { http: { host, adminToken: TOKEN, console: { loginFailureDelayMs: 50 } } } }), createLogger('silent'));
  });
  after(async () => {
    await svc?.close();
    d.cleanup();
  });

  test('sign-in over HTTPS on a non-loopback address sets HttpOnly; SameSite=Strict; Secure', async (t) => {
    if (!host || !svc) return t.skip('this machine has no IPv4 address off loopback');
    assert.equal(svc.endpoints.http!.tls, 'implicit', 'off loopback the listener speaks TLS');
    const answer = await postJson(host, svc.endpoints.http!.port, '/console/api/login', { token: TOKEN }, svc.tls.cert);
    assert.equal(answer.status, 200);
    assertSecureCookie(answer.setCookie, 'postamt_console');
  });

  test('plain HTTP to the same port is not answered as HTTP', async (t) => {
    if (!host || !svc) return t.skip('this machine has no IPv4 address off loopback');
    const r = await fetch(`http://${host}:${svc.endpoints.http!.port}/console/api/session`).then(
      (res) => res.status,
      (err: unknown) => err,
    );
    assert.ok(r instanceof Error, `plain HTTP must fail, got ${String(r)}`);
  });
});

describe('Praxis-Postfach off loopback: HTTPS, and the session cookie is Secure', () => {
  const host = offLoopbackAddress();
  const d = tempDir();
  let demo: RunningDemo | undefined;
  before(async () => {
    if (!host) return;
    const config = testConfig(d.path, {
      clientModule: { smtp: { starttls: { port: 0 }, implicit: { port: 0 } }, pop3: { starttls: { port: 0 }, implicit: { port: 0 } } },
      praxis: { http: { host, port: 0 }, login: { failureDelayMs: 20 } },
    });
    demo = await startDemo(config, createLogger('silent'));
  });
  after(async () => {
    await demo?.close();
    d.cleanup();
  });

  test('the listener is HTTPS, its URL says so, and the sign-in cookie of a practice is Secure', async (t) => {
    if (!host || !demo) return t.skip('this machine has no IPv4 address off loopback');
    const e = demo.endpointsFile.endpoints.praxis!;
    assert.equal(e.tls, 'implicit');
    assert.match(demo.praxis!.url, /^https:\/\//);
    const [pa] = demo.endpointsFile.practices as Array<{ address: string; password: string }>;
    const answer = await postJson(host, e.port, '/praxis/api/login', { user: pa!.address, password: pa!.password }, demo.service.tls.cert);
    assert.equal(answer.status, 200);
    assertSecureCookie(answer.setCookie, 'praxis_session');
  });
});

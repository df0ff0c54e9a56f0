import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { networkInterfaces } from 'node:os';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';

/** This machine's first IPv4 address that is not loopback, if it has one. */
function offLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

const TOKEN = 'admin-token-for-the-off-loopback-test';

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
    const body = JSON.stringify({ token: TOKEN });
    const answer = await new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
      const req = request(
        {
          host,
          port: svc!.endpoints.http!.port,
          method: 'POST',
          path: '/console/api/login',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          ca: svc!.tls.cert,
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
    assert.equal(answer.status, 200);
    const cookie = answer.setCookie.find((c) => c.startsWith('postamt_console='));
    assert.ok(cookie, 'a session cookie');
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Secure']) assert.ok(cookie.split('; ').includes(flag), `${flag} in ${cookie.replace(/=[^;]+/, '=…')}`);
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

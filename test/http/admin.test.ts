import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, testConfig } from '../helpers/env.js';
import { run } from '../helpers/process.js';
import { createLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';

/** curl, an HTTP client that is not ours (async: the server runs in this process). */
async function curl(url: string, headers: string[] = []): Promise<{ status: number; headers: string; body: string }> {
  const { stdout: out } = await run('curl', ['-sS', '-i', ...headers.flatMap((h) => ['-H', h]), url], { check: true });
  const split = out.indexOf('\r\n\r\n');
  const head = out.slice(0, split);
  return { status: Number(/^HTTP\/\S+ (\d+)/.exec(head)![1]), headers: head.toLowerCase(), body: out.slice(split + 4) };
}

describe('admin API behind a bearer token', () => {
  const d = tempDir();
  let svc: RunningService;
  let base: string;
  before(async () => {
    svc = await startService(testConfig(d.path), createLogger('silent'));
    await svc.accounts.addDomain('praxis.test');
    await svc.accounts.add({ address: 'anna@praxis.test', password: 'a-long-password', displayName: 'Anna', telematikId: '1-123' });
    base = `http://127.0.0.1:${svc.endpoints.http!.port}`;
  });
  after(async () => {
    await svc.close();
    d.cleanup();
  });

  test('the generated token is kept in dataDir/admin-token, owner-only', () => {
    const token = readFileSync(join(d.path, 'admin-token'), 'utf8').trim();
    assert.equal(token, svc.adminToken);
    assert.ok(token.length >= 32);
    assert.equal(statSync(join(d.path, 'admin-token')).mode & 0o777, 0o600);
  });

  test('no token, a wrong token or another scheme: 401 with WWW-Authenticate and problem JSON', async () => {
    for (const h of [[], ['Authorization: Bearer wrong-token-wrong-token'], [`Authorization: Basic ${Buffer.from('admin:' + svc.adminToken).toString('base64')}`]]) {
      const r = await curl(`${base}/api/accounts`, h);
      assert.equal(r.status, 401);
      assert.match(r.headers, /www-authenticate: bearer realm="postamt-admin"/);
      assert.match(r.headers, /content-type: application\/problem\+json/);
      assert.equal(JSON.parse(r.body).status, 401);
      assert.doesNotMatch(r.body, /anna@/);
    }
  });

  test('with the token: accounts and domains as JSON, no password hashes', async () => {
    const auth = [`Authorization: Bearer ${svc.adminToken}`];
    const accounts = await curl(`${base}/api/accounts`, auth);
    assert.equal(accounts.status, 200);
    const list = JSON.parse(accounts.body) as Array<Record<string, unknown>>;
    assert.deepEqual(list.map((a) => [a.address, a.telematikId, a.displayName]), [['anna@praxis.test', '1-123', 'Anna']]);
    assert.doesNotMatch(accounts.body, /scrypt|password/i);
    const domains = JSON.parse((await curl(`${base}/api/domains`, auth)).body) as Array<{ name: string }>;
    assert.deepEqual(domains.map((x) => x.name), ['praxis.test']);
    assert.deepEqual(JSON.parse((await curl(`${base}/api/accounts?domain=other.test`, auth)).body), []);
  });

  test('routes outside /api stay open (health checks need no token)', async () => {
    assert.equal((await curl(`${base}/healthz`)).status, 200);
  });
});

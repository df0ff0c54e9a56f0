import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfig } from '../helpers/env.js';
import { createLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';

/** The admin API routes the console's later pages added: no data without a session, no change without the CSRF token. */
describe('console pages: new admin API routes refuse without session and without CSRF token', () => {
  const d = tempDir();
  let svc: RunningService;
  let base: string;
  let cookie: string;
  let csrf: string;
  before(async () => {
    svc = await startService(testConfig(d.path, { service: { http: { console: { loginFailureDelayMs: 10 } } } }), createLogger('silent'));
    base = `http://127.0.0.1:${svc.endpoints.http!.port}`;
    const r = await fetch(`${base}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: svc.adminToken }) });
    assert.equal(r.status, 200);
    cookie = r.headers.get('set-cookie')!.split(';')[0]!;
    csrf = ((await r.json()) as { csrfToken: string }).csrfToken;
  });
  after(async () => {
    await svc.close();
    d.cleanup();
  });

  const READS = ['/api/trace?limit=5', '/api/trace/ABC123', '/api/directory/entries?filter=(displayName=*x*)', '/api/directory/entries/1-2/certificates/decoded', '/api/mailin/runs', '/api/mailin/jobs', '/api/clientmodule', '/api/clientmodule/outcomes', '/api/konnektor/status'];
  const CHANGES = ['/api/queue/1/bounce', '/api/mailin/jobs/1/retry'];

  test('without a session every one answers 401 problem JSON', async () => {
    for (const path of [...READS, ...CHANGES]) {
      const r = await fetch(base + path, { method: CHANGES.includes(path) ? 'POST' : 'GET' });
      assert.equal(r.status, 401, path);
      assert.match(r.headers.get('content-type')!, /application\/problem\+json/, path);
    }
  });

  test('with the session cookie but no x-csrf-token (or a wrong one) a change answers 403', async () => {
    for (const path of CHANGES) {
      for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'A'.repeat(43) }] as Array<Record<string, string>>) {
        const r = await fetch(base + path, { method: 'POST', headers });
        assert.equal(r.status, 403, path);
        assert.match(((await r.json()) as { title: string }).title, /x-csrf-token/);
      }
    }
  });

  test('with the session and its token: clear answers (404 for what is not there, 400 for bad input)', async () => {
    const call = (method: string, path: string) => fetch(base + path, { method, headers: { cookie, 'x-csrf-token': csrf } });
    assert.equal((await call('POST', '/api/queue/999/bounce')).status, 404);
    assert.equal((await call('POST', '/api/queue/x/bounce')).status, 400);
    assert.equal((await call('POST', '/api/mailin/jobs/999/retry')).status, 404);
    const noCm = await call('GET', '/api/clientmodule/outcomes');
    assert.equal(noCm.status, 404);
    assert.match(((await noCm.json()) as { title: string }).title, /no client module runs in this process/);
    assert.equal((await call('GET', '/api/clientmodule/outcomes?direction=sideways')).status, 400);
    const view = (await (await call('GET', '/api/clientmodule')).json()) as { outcomesHere: boolean; recentOutcomes: number; mandantenFrom: string };
    assert.equal(view.outcomesHere, false);
    assert.equal(view.mandantenFrom, 'konnektor', 'the software Konnektor lists its own Mandanten');
    assert.equal(view.recentOutcomes, 200);
    assert.equal((await call('GET', '/api/directory/entries/1-2/certificates/decoded')).status, 404);
    assert.equal((await call('GET', '/api/directory/entries/1-2/certificates/decoded?warnDays=soon')).status, 400);
  });
});

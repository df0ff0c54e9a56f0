import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS } from '../helpers/env.js';
import { startProvider, submit, type Provider } from '../helpers/relay.js';

for (const kind of STORE_KINDS) {
  describe(`GET /api/trace (${kind})`, () => {
    test('list newest first with keyset paging, one message with its events in order; bad parameters: 400 problem JSON; unknown id: 404; no token: 401', async (t) => {
      const a = await startProvider(kind, 'a.test', ['alice@a.test', 'carol@a.test']);
      if (!a) return t.skip('PostgreSQL explicitly skipped');
      try {
        await check(a);
      } finally {
        await a.close();
      }
    });
  });
}

async function check(a: Provider): Promise<void> {
  const base = `http://127.0.0.1:${a.svc.endpoints.http!.port}/api`;
  const get = async (path: string, token: string | null = a.svc.adminToken) => {
    const r = await fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: r.status, type: r.headers.get('content-type') ?? '', body: (await r.json()) as Record<string, unknown> };
  };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(/queued as (\w+)/.exec((await submit(a, 'alice@a.test', ['carol@a.test'], { subject: `Befund ${i}` })).response)![1]!);

  const first = await get('/trace?address=carol@a.test&limit=2');
  assert.equal(first.status, 200);
  const items = first.body['items'] as Array<{ id: string; status: string; komle: boolean }>;
  assert.deepEqual(items.map((m) => m.id), [ids[2], ids[1]]);
  assert.equal(typeof first.body['next'], 'string');
  const second = await get(`/trace?address=carol@a.test&limit=2&cursor=${first.body['next'] as string}`);
  assert.deepEqual((second.body['items'] as Array<{ id: string }>).map((m) => m.id), [ids[0]]);
  assert.equal(second.body['next'], undefined);
  const since = new Date(Date.now() - 60_000).toISOString();
  assert.equal(((await get(`/trace?from=${since}&to=${Date.now() + 1000}`)).body['items'] as unknown[]).length, 3);

  const one = await get(`/trace/${ids[0]!}`);
  assert.equal(one.status, 200);
  assert.deepEqual((one.body['events'] as Array<{ kind: string }>).map((e) => e.kind), ['accepted', 'stored', 'delivered']);
  const mid = one.body['messageId'] as string;
  assert.deepEqual(((await get(`/trace?messageId=${encodeURIComponent(`<${mid}>`)}`)).body['items'] as Array<{ id: string }>).map((m) => m.id), [ids[0]]);
  assert.doesNotMatch(JSON.stringify(one.body), /Befund/, 'no Subject');

  const bad: Array<[string, RegExp]> = [
    ['/trace?limit=0', /limit/],
    ['/trace?limit=501', /limit/],
    ['/trace?limit=ten', /limit/],
    ['/trace?from=yesterday', /from/],
    ['/trace?from=2026-12-07T10:00:00Z&to=2026-12-07T09:00:00Z', /before/],
    ['/trace?address=not-an-address', /address/],
    ['/trace?cursor=%20x', /cursor/],
    ['/trace?cursor=bm90IGEgY3Vyc29y', /cursor/],
    ['/trace?subject=x', /unknown query parameter subject/],
    ['/trace?limit=1&limit=2', /limit/],
    ['/trace/not%20an%20id', /trace id/],
  ];
  for (const [path, why] of bad) {
    const r = await get(path);
    assert.equal(r.status, 400, path);
    assert.match(r.type, /^application\/problem\+json/, path);
    assert.equal(r.body['status'], 400);
    assert.match(r.body['title'] as string, why, path);
  }
  const missing = await get('/trace/NOSUCHID');
  assert.deepEqual([missing.status, missing.body['status']], [404, 404]);
  assert.match(missing.type, /^application\/problem\+json/);
  assert.equal((await get('/trace', null)).status, 401);
  assert.equal((await get(`/trace/${ids[0]!}`, 'wrong-token-wrong-token')).status, 401);
}

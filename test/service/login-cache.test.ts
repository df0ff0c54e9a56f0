import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, withTestStore, type TestStore } from '../helpers/env.js';
import { Accounts, LoginCache } from '../../src/service/index.js';
import { Metrics } from '../../src/core/index.js';

const PW = 'first password';

async function setup(ts: TestStore, cache: LoginCache): Promise<Accounts> {
  const a = new Accounts(ts.store.db, ts.store.blobs, cache);
  await a.addDomain('praxis.example');
  await a.add({ address: 'anna@praxis.example', password: PW });
  return a;
}

for (const kind of STORE_KINDS) {
  describe(`login cache with accounts on ${kind}`, () => {
    test('a second login with the same password is a hit; a wrong password is never one and is not cached', (t) =>
      withTestStore(kind, t, async (ts) => {
        const metrics = new Metrics();
        const cache = new LoginCache({ ttlMs: 60_000, maxEntries: 100 }, metrics);
        const a = await setup(ts, cache);
        assert.ok(await a.authenticate('anna@praxis.example', PW));
        assert.deepEqual(cache.stats, { hits: 0, misses: 1 });
        // The address as typed differs; the account's address is what the cache is keyed by.
        assert.equal((await a.authenticate('ANNA@praxis.example', PW))?.address, 'anna@praxis.example');
        assert.deepEqual(cache.stats, { hits: 1, misses: 1 });
        for (let i = 0; i < 2; i++) assert.equal(await a.authenticate('anna@praxis.example', 'wrong password'), null);
        assert.deepEqual(cache.stats, { hits: 1, misses: 3 }, 'each wrong password pays the full check');
        assert.equal(cache.size, 1, 'failures are not remembered');
        assert.ok(await a.authenticate('anna@praxis.example', PW), 'a guesser does not evict the right entry');
        assert.deepEqual(cache.stats, { hits: 2, misses: 3 });
        assert.match(metrics.render(), /postamt_login_cache_total\{result="hit"\} 2/);
        assert.match(metrics.render(), /postamt_login_cache_total\{result="miss"\} 3/);
      }));

    test('a password change refuses the old password at once, also when another process made it', (t) =>
      withTestStore(kind, t, async (ts) => {
        const cache = new LoginCache({ ttlMs: 60_000, maxEntries: 100 });
        const a = await setup(ts, cache);
        assert.ok(await a.authenticate('anna@praxis.example', PW));
        // Another process (the CLI) without this process's cache changes the password.
        const other = new Accounts(ts.store.db, ts.store.blobs);
        await other.setPassword('anna@praxis.example', 'second password');
        assert.equal(cache.size, 1, 'this process was not told');
        assert.equal(await a.authenticate('anna@praxis.example', PW), null);
        assert.equal(cache.stats.hits, 0);
        assert.ok(await a.authenticate('anna@praxis.example', 'second password'));
        assert.ok(await a.authenticate('anna@praxis.example', 'second password'));
        assert.equal(cache.stats.hits, 1);
        // Through this process: the entry goes, too.
        await a.setPassword('anna@praxis.example', 'third password');
        assert.equal(cache.size, 0);
        assert.equal(await a.authenticate('anna@praxis.example', 'second password'), null);
      }));

    test('a disabled or removed account cannot log in with a cached password', (t) =>
      withTestStore(kind, t, async (ts) => {
        const cache = new LoginCache({ ttlMs: 60_000, maxEntries: 100 });
        const a = await setup(ts, cache);
        assert.ok(await a.authenticate('anna@praxis.example', PW));
        const other = new Accounts(ts.store.db, ts.store.blobs);
        await other.setDisabled('anna@praxis.example', true);
        assert.equal(await a.authenticate('anna@praxis.example', PW), null, 'the disabled flag is read with every login');
        await a.setDisabled('anna@praxis.example', false);
        assert.equal(cache.size, 0);
        assert.ok(await a.authenticate('anna@praxis.example', PW));
        await a.remove('anna@praxis.example');
        assert.equal(cache.size, 0);
        await a.add({ address: 'anna@praxis.example', password: PW });
        const before = cache.stats.hits;
        assert.ok(await a.authenticate('anna@praxis.example', PW));
        assert.equal(cache.stats.hits, before, 'a new account with the same password is checked afresh');
      }));

    test('authenticateCached: the account on a hit only; miss, wrong password, unknown and disabled are undefined and count no hit', (t) =>
      withTestStore(kind, t, async (ts) => {
        const cache = new LoginCache({ ttlMs: 60_000, maxEntries: 100 });
        const a = await setup(ts, cache);
        assert.equal(await a.authenticateCached('anna@praxis.example', PW), undefined, 'not cached yet');
        assert.deepEqual(cache.stats, { hits: 0, misses: 0 }, 'a peek counts no miss: the full check does');
        assert.ok(await a.authenticate('anna@praxis.example', PW));
        assert.equal((await a.authenticateCached('ANNA@praxis.example', PW))?.address, 'anna@praxis.example');
        assert.equal(await a.authenticateCached('anna@praxis.example', 'wrong password'), undefined);
        assert.equal(await a.authenticateCached('nobody@praxis.example', PW), undefined);
        assert.deepEqual(cache.stats, { hits: 1, misses: 1 });
        await new Accounts(ts.store.db, ts.store.blobs).setDisabled('anna@praxis.example', true);
        assert.equal(cache.size, 1, 'the entry is still there');
        assert.equal(await a.authenticateCached('anna@praxis.example', PW), undefined, 'a disabled account is never a hit');
        assert.equal(cache.stats.hits, 1);
        const off = new Accounts(ts.store.db, ts.store.blobs, new LoginCache({ ttlMs: 0, maxEntries: 100 }));
        assert.equal(await off.authenticateCached('anna@praxis.example', PW), undefined, 'cache off');
      }));
  });
}

describe('login cache on its own', () => {
  const stored = '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=';
  const calls: string[] = [];
  const yes = async (pw: string): Promise<boolean> => {
    calls.push(pw);
    return pw === 'right';
  };

  test('ttl 0 (or maxEntries 0) disables it: every login is checked, nothing is kept', async () => {
    for (const opts of [{ ttlMs: 0, maxEntries: 100 }, { ttlMs: 60_000, maxEntries: 0 }]) {
      const cache = new LoginCache(opts);
      calls.length = 0;
      assert.equal(cache.enabled, false);
      for (let i = 0; i < 3; i++) assert.equal(await cache.verify('a@x', 'right', stored, yes), true);
      assert.equal(calls.length, 3);
      assert.equal(cache.size, 0);
      assert.deepEqual(cache.stats, { hits: 0, misses: 0 });
    }
  });

  test('an entry expires ttlMs after the check that made it, hits do not prolong it', async () => {
    let now = 1_000;
    const cache = new LoginCache({ ttlMs: 100, maxEntries: 10 }, undefined, () => now);
    calls.length = 0;
    assert.ok(await cache.verify('a@x', 'right', stored, yes));
    now = 1_099;
    assert.ok(await cache.verify('a@x', 'right', stored, yes));
    assert.equal(calls.length, 1);
    now = 1_100;
    assert.ok(await cache.verify('a@x', 'right', stored, yes));
    assert.equal(calls.length, 2);
  });

  test('bounded: past maxEntries the least recently used account is forgotten', async () => {
    const cache = new LoginCache({ ttlMs: 60_000, maxEntries: 3 });
    for (const u of ['a', 'b', 'c']) await cache.verify(u, 'right', stored, yes);
    await cache.verify('a', 'right', stored, yes); // a is now the most recent
    await cache.verify('d', 'right', stored, yes);
    assert.equal(cache.size, 3);
    calls.length = 0;
    for (const u of ['a', 'c', 'd']) await cache.verify(u, 'right', stored, yes);
    assert.equal(calls.length, 0, 'a, c and d are kept');
    await cache.verify('b', 'right', stored, yes);
    assert.equal(calls.length, 1, 'b was evicted');
  });

  test('the same user with another stored hash or password is a miss', async () => {
    const cache = new LoginCache({ ttlMs: 60_000, maxEntries: 10 });
    const any = async (): Promise<boolean> => true;
    await cache.verify('a', 'pw', stored, any);
    assert.equal(cache.stats.misses, 1);
    await cache.verify('a', 'pw', stored.replace('ln=10', 'ln=11'), any);
    await cache.verify('a', 'pw2', stored.replace('ln=10', 'ln=11'), any);
    // Concatenation does not confuse the parts.
    await cache.verify('a', 'pw2' + stored.replace('ln=10', 'ln=11').slice(0, 3), stored.replace('ln=10', 'ln=11').slice(3), any);
    assert.deepEqual(cache.stats, { hits: 0, misses: 4 });
  });
});

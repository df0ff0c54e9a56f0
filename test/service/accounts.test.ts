import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, withTestStore } from '../helpers/env.js';
import { Accounts } from '../../src/service/index.js';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/index.js';

for (const kind of STORE_KINDS) {
  describe(`accounts and domains on ${kind}`, () => {
    test('domains: add, list, refuse duplicates and removal while in use', (t) =>
      withTestStore(kind, t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        await a.addDomain('Praxis.Example.');
        await assert.rejects(a.addDomain('praxis.example'), ConflictError);
        await assert.rejects(a.addDomain('not a domain'), UsageError);
        assert.deepEqual((await a.listDomains()).map((d) => d.name), ['praxis.example']);
        await a.add({ address: 'Anna@Praxis.Example', password: 'long enough pw' });
        await assert.rejects(a.removeDomain('praxis.example'), /still has 1 account/);
        await a.remove('anna@praxis.example');
        await a.removeDomain('praxis.example');
        await assert.rejects(a.removeDomain('praxis.example'), NotFoundError);
      }));

    test('accounts: scrypt hashes, authentication, disable, password change', (t) =>
      withTestStore(kind, t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const acc = await a.add({ address: 'anna@praxis.example', password: 'first password', displayName: 'Dr. Anna', telematikId: '1-20014711', quotaBytes: 1000 });
        assert.equal(acc.quotaBytes, 1000);
        const row = await ts.store.db.selectFrom('accounts').select('password_hash').executeTakeFirstOrThrow();
        assert.match(row.password_hash, /^\$scrypt\$ln=15,r=8,p=1\$/);
        assert.ok(!row.password_hash.includes('first password'));
        assert.equal((await a.authenticate('ANNA@praxis.example', 'first password'))?.address, 'anna@praxis.example');
        assert.equal(await a.authenticate('anna@praxis.example', 'wrong password'), null);
        assert.equal(await a.authenticate('ghost@praxis.example', 'first password'), null);
        await a.setDisabled('anna@praxis.example', true);
        assert.equal(await a.authenticate('anna@praxis.example', 'first password'), null, 'disabled accounts cannot log in');
        await a.setDisabled('anna@praxis.example', false);
        await a.setPassword('anna@praxis.example', 'second password');
        assert.equal(await a.authenticate('anna@praxis.example', 'first password'), null);
        assert.ok(await a.authenticate('anna@praxis.example', 'second password'));
        await assert.rejects(a.add({ address: 'anna@praxis.example', password: 'whatever1' }), ConflictError);
        await assert.rejects(a.add({ address: 'x@unknown.example', password: 'whatever1' }), /not a local domain/);
        await assert.rejects(a.add({ address: 'y@praxis.example', password: 'short' }), /at least 8/);
        await assert.rejects(a.add({ address: 'z@praxis.example', password: 'whatever1', telematikId: 'no id' }), /not a Telematik-ID/);
      }));
  });
}

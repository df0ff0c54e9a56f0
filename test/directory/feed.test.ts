import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/env.js';
import { Accounts } from '../../src/service/index.js';
import { Directory, DirectoryAccountFeed } from '../../src/directory/index.js';

for (const kind of STORE_KINDS) {
  describe(`the account feed on ${kind}`, () => {
    let ts: TestStore | null;
    let accounts: Accounts;
    let dir: Directory;
    before(async () => {
      ts = await openTestStore(kind);
      if (!ts) return;
      dir = new Directory(ts.store, { baseDn: 'dc=data,dc=vzd' });
      accounts = new Accounts(ts.store.db, ts.store.blobs);
      accounts.onChange(new DirectoryAccountFeed(dir));
      await accounts.addDomain('praxis.test');
    });
    after(async () => ts?.close());

    test('adding an account with a Telematik-ID creates or extends the entry; removing takes mail and komLeData out', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      await accounts.add({ address: 'anna@praxis.test', password: 'long-enough', displayName: 'Praxis Anna', telematikId: '1-777' });
      let e = await dir.get('1-777');
      assert.deepEqual(e.attrs.displayName, ['Praxis Anna']);
      assert.deepEqual(e.attrs.mail, ['anna@praxis.test']);
      assert.deepEqual(e.attrs.komLeData, ['1.5,anna@praxis.test']);
      assert.deepEqual(e.attrs.kimData, ['anna@praxis.test,1.5'], 'kimData too: <address>,<version>');
      await accounts.add({ address: 'empfang@praxis.test', password: 'long-enough', telematikId: '1-777' });
      e = await dir.get('1-777');
      assert.deepEqual(e.attrs.mail, ['anna@praxis.test', 'empfang@praxis.test']);
      assert.deepEqual(e.attrs.displayName, ['Praxis Anna'], 'the existing name is kept');
      await accounts.add({ address: 'nobody@praxis.test', password: 'long-enough' });
      assert.equal(await dir.count(), 1, 'no Telematik-ID, no entry');
      await accounts.remove('anna@praxis.test');
      e = await dir.get('1-777');
      assert.deepEqual(e.attrs.mail, ['empfang@praxis.test']);
      assert.deepEqual(e.attrs.komLeData, ['1.5,empfang@praxis.test']);
      assert.deepEqual(e.attrs.kimData, ['empfang@praxis.test,1.5']);
      // Changing the Telematik-ID moves the address.
      await accounts.setTelematikId('empfang@praxis.test', '1-888');
      assert.equal((await dir.get('1-777')).attrs.mail, undefined);
      assert.equal((await dir.get('1-777')).attrs.kimData, undefined, 'the last kimData value goes with the address');
      assert.deepEqual((await dir.get('1-888')).attrs.mail, ['empfang@praxis.test']);
      assert.deepEqual((await dir.get('1-888')).attrs.displayName, ['empfang@praxis.test'], 'no display name: the address stands in');
    });

    test('the feed runs in the account transaction: a failing directory write leaves no account', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      // An entry that already holds 100 mail values cannot take another one.
      await dir.add({ uid: 'full', attributes: [{ name: 'telematikID', value: '1-999' }, { name: 'displayName', value: 'Voll' }, ...Array.from({ length: 100 }, (_, k) => ({ name: 'mail', value: `m${k}@x.test` }))] });
      await assert.rejects(accounts.add({ address: 'late@praxis.test', password: 'long-enough', telematikId: '1-999' }), /at most 100/);
      assert.equal(await accounts.find('late@praxis.test'), undefined);
    });
  });
}

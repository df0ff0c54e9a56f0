import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, storeBlob, withTestStore } from '../helpers/env.js';
import { Accounts, Mailboxes } from '../../src/service/index.js';

for (const kind of STORE_KINDS) {
  describe(`mailboxes on ${kind}`, () => {
    test('mailboxes: filing is atomic across recipients; quota is enforced; expunge frees blobs', (t) =>
      withTestStore(kind, t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        const m = new Mailboxes(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const anna = await a.add({ address: 'anna@praxis.example', password: 'password1' });
        const ben = await a.add({ address: 'ben@praxis.example', password: 'password1', quotaBytes: 40 });
        const blob = await storeBlob(ts, 'Subject: x\r\n\r\n0123456789\r\n');
        const ids = await m.file(blob, [ben.id, anna.id]);
        assert.deepEqual(ids, [(await m.list(ben.id))[0]!.id, (await m.list(anna.id))[0]!.id], 'the ids come back in the order of the accounts');
        assert.equal((await a.get('ben@praxis.example')).usedBytes, blob.size);
        const blob2 = await storeBlob(ts, 'Subject: y\r\n\r\n0123456789\r\n');
        await assert.rejects(m.file(blob2, [anna.id, ben.id]), /mailbox ben@praxis\.example is full/);
        assert.equal((await m.list(anna.id)).length, 1, 'anna did not get half a delivery');
        assert.equal((await a.get('anna@praxis.example')).usedBytes, blob.size, 'nor was she charged for it');
        await assert.rejects(m.file(blob2, [anna.id, 999_999]), /mailbox 999999 no longer exists/);
        assert.equal((await a.get('anna@praxis.example')).usedBytes, blob.size, 'a gone mailbox charges nobody');
        const [entry] = await m.list(ben.id);
        assert.equal((await m.read(entry!)).toString(), 'Subject: x\r\n\r\n0123456789\r\n');
        assert.match(entry!.uid, /^m[0-9a-z]+$/);
        assert.equal(await m.expunge(ben.id, [entry!.id]), 1);
        assert.equal((await a.get('ben@praxis.example')).usedBytes, 0);
        await ts.store.blobs.get(blob.hash); // anna still has it
        const [annaEntry] = await m.list(anna.id);
        await m.expunge(anna.id, [annaEntry!.id]);
        await assert.rejects(ts.store.blobs.get(blob.hash), /ENOENT|not found/, 'the last reference removed the blob');
        assert.equal(await m.expunge(anna.id, [annaEntry!.id]), 0, 'expunging twice is harmless');
      }));

    test('UIDs are never reused after expunge', (t) =>
      withTestStore(kind, t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        const m = new Mailboxes(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const anna = await a.add({ address: 'anna@praxis.example', password: 'password1' });
        await m.file(await storeBlob(ts, 'one\r\n'), [anna.id]);
        const [first] = await m.list(anna.id);
        await m.expunge(anna.id, [first!.id]);
        await m.file(await storeBlob(ts, 'two\r\n'), [anna.id]);
        const [second] = await m.list(anna.id);
        assert.notEqual(second!.uid, first!.uid);
      }));
  });
}

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, withTestStore, storeBlob, type TestStore } from '../helpers/env.js';
import { GroupCommit } from '../../src/store/index.js';
import { Accounts, Mailboxes, Retention } from '../../src/service/index.js';
import { Metrics, silentLogger } from '../../src/core/index.js';

// The Fachdienst's retention rule: messages older than their account's dataTimeToLive
// (AccountLimit.yaml 1.1.4) are deleted; the others stay. The test owns the clock.

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1, 12);

async function fileAt(ts: TestStore, accountId: number, receivedAt: number, text: string): Promise<number> {
  const blob = await storeBlob(ts, `${text} ${receivedAt}`);
  const row = await ts.store.db
    .insertInto('messages')
    .values({ account_id: accountId, blob_hash: blob.hash, size: blob.size, received_at: receivedAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  await ts.store.db.updateTable('accounts').set((eb) => ({ used_bytes: eb('used_bytes', '+', blob.size) })).where('id', '=', accountId).execute();
  return row.id;
}

for (const kind of STORE_KINDS) {
  describe(`retention on ${kind}`, () => {
    test('messages past the account\'s dataTimeToLive (own or default) go, in batches; younger ones stay; used_bytes and blobs follow', async (t) => {
      await withTestStore(kind, t, async (ts) => {
        const accounts = new Accounts(ts.store.db, ts.store.blobs);
        await accounts.addDomain('kim.test');
        const short = await accounts.add({ address: 'short@kim.test', password: 'Passw0rd!' });
        const dflt = await accounts.add({ address: 'default@kim.test', password: 'Passw0rd!' });
        await accounts.setLimits(short.address, { dataTimeToLiveDays: 10 });
        const stay: number[] = [];
        const go: number[] = [];
        // short: 10 days. 11 and 30 days old go; 9 days and a minute short of 10 stay.
        for (const age of [11 * DAY, 30 * DAY, 10 * DAY + 1]) go.push(await fileAt(ts, short.id, NOW - age, 'old'));
        for (const age of [9 * DAY, 10 * DAY - 60_000]) stay.push(await fileAt(ts, short.id, NOW - age, 'young'));
        // default (90 days): 30 days stays, 91 goes.
        stay.push(await fileAt(ts, dflt.id, NOW - 30 * DAY, 'young'));
        for (let i = 0; i < 5; i++) go.push(await fileAt(ts, dflt.id, NOW - 91 * DAY - i, `old${i}`));
        const goneBlobs = await ts.store.db.selectFrom('messages').select('blob_hash').where('id', 'in', go).execute();

        const metrics = new Metrics();
        const mailboxes = new Mailboxes(ts.store.db, ts.store.blobs, new GroupCommit(ts.store.db));
        const retention = new Retention(ts.store.db, mailboxes, { defaultDays: 90, batchSize: 3, logger: silentLogger(), metrics, now: () => NOW });
        const run = await retention.run();
        assert.equal(run.deleted, go.length);
        assert.equal(run.accounts, 2);
        assert.ok(run.batches >= 3, `batches of 3 (${run.batches})`);

        const left = (await ts.store.db.selectFrom('messages').select('id').orderBy('id').execute()).map((r) => r.id);
        assert.deepEqual(left, [...stay].sort((a, b) => a - b));
        for (const a of [short, dflt]) {
          const used = await ts.store.db.selectFrom('messages').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), eb.val(0)).as('n')).where('account_id', '=', a.id).executeTakeFirstOrThrow();
          assert.equal((await accounts.get(a.address)).usedBytes, Number(used.n), `${a.address}: used_bytes is what is left`);
        }
        const stored = new Set<string>();
        for await (const b of ts.store.blobs.list()) stored.add(b.hash);
        for (const b of goneBlobs) assert.equal(stored.has(b.blob_hash), false, 'the deleted messages\' blobs are gone');
        assert.equal(stored.size, stay.length, 'the kept messages\' blobs are there');
        assert.match(metrics.render(), /postamt_retention_deleted_total 8/);

        // Nothing more to do: a second run deletes nothing; a day later the 9-day-old ones are still young.
        assert.equal((await retention.run()).deleted, 0);
        const later = new Retention(ts.store.db, mailboxes, { defaultDays: 90, batchSize: 100, logger: silentLogger(), now: () => NOW + DAY });
        assert.equal((await later.run()).deleted, 1, 'a day later the one 10 days less a minute old has gone');
      });
    });
  });
}

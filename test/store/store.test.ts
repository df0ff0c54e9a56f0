import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { STORE_KINDS, storeBlob, withTestStore } from '../helpers/env.js';
import { Accounts, Mailboxes } from '../../src/service/index.js';
import { migrate, collectGarbageBlobs } from '../../src/store/index.js';

for (const kind of STORE_KINDS) {
  describe(`store on ${kind}`, () => {
    test('migrations are applied once and are idempotent', (t) =>
      withTestStore(kind, t, async (ts) => {
        const again = await migrate(ts.store.db, ts.store.dialect);
        assert.equal(again.length, 0, 'nothing left to migrate');
        const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(ts.store.db);
        assert.deepEqual(rows.rows.map((r) => r.name), ['001_core', '002_directory', '003_mailin', '004_relay', '005_store_meta', '006_blob_chunks', '007_trace', '008_account_limits', '009_kim_account_manager', '010_mail_rules', '011_kim_changed_at']);
      }));

    test('garbage collection removes only unreferenced blobs past the grace period', (t) =>
      withTestStore(kind, t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        const m = new Mailboxes(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const anna = await a.add({ address: 'anna@praxis.example', password: 'password1' });
        const kept = await storeBlob(ts, 'filed\r\n');
        await m.file(kept, [anna.id]);
        const orphan = await storeBlob(ts, 'never filed: the server crashed before COMMIT\r\n');
        const young = await collectGarbageBlobs(ts.store.db, ts.store.blobs, 3_600_000);
        assert.equal(young.deleted, 0, 'a blob of a delivery that may still be in flight is kept');
        const later = await collectGarbageBlobs(ts.store.db, ts.store.blobs, 3_600_000, Date.now() + 7_200_000);
        assert.deepEqual(later, { examined: 2, deleted: 1 });
        await ts.store.blobs.get(kept.hash);
        await assert.rejects(ts.store.blobs.get(orphan.hash));
      }));
  });
}

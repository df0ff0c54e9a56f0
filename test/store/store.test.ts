import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { prng } from '../helpers/prng.js';
import { join } from 'node:path';
import { sql } from 'kysely';
import { STORE_KINDS, openTestStore, type TestStore } from '../helpers/env.js';
import { Accounts, Mailboxes, verifyPassword, hashPassword } from '../../src/service/index.js';
import { FileBlobStore, DatabaseBlobStore, migrate, collectGarbageBlobs, removeStaleTempFiles } from '../../src/store/index.js';
import { until } from '../helpers/wait.js';
import { ConflictError, NotFoundError, UsageError } from '../../src/core/index.js';
import { collect } from '../helpers/stream.js';

async function putBlob(ts: TestStore, text: string): Promise<{ hash: string; size: number }> {
  const w = await ts.store.blobs.writer();
  await w.write(Buffer.from(text));
  return w.commit();
}

for (const kind of STORE_KINDS) {
  describe(`store on ${kind}`, () => {
    async function withStore(t: { skip(msg: string): void }, fn: (ts: TestStore) => Promise<void>, raw?: Record<string, unknown>): Promise<void> {
      const ts = await openTestStore(kind, raw);
      if (!ts) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
      try {
        await fn(ts);
      } finally {
        await ts.close();
      }
    }

    test('migrations are applied once and are idempotent', (t) =>
      withStore(t, async (ts) => {
        const again = await migrate(ts.store.db, ts.store.dialect);
        assert.equal(again.length, 0, 'nothing left to migrate');
        const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(ts.store.db);
        assert.deepEqual(rows.rows.map((r) => r.name), ['001_core', '002_directory', '003_mailin', '004_relay']);
      }));

    test('domains: add, list, refuse duplicates and removal while in use', (t) =>
      withStore(t, async (ts) => {
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
      withStore(t, async (ts) => {
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

    test('mailboxes: filing is atomic across recipients; quota is enforced; expunge frees blobs', (t) =>
      withStore(t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        const m = new Mailboxes(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const anna = await a.add({ address: 'anna@praxis.example', password: 'password1' });
        const ben = await a.add({ address: 'ben@praxis.example', password: 'password1', quotaBytes: 40 });
        const blob = await putBlob(ts, 'Subject: x\r\n\r\n0123456789\r\n');
        const ids = await m.file(blob, [ben.id, anna.id]);
        assert.deepEqual(ids, [(await m.list(ben.id))[0]!.id, (await m.list(anna.id))[0]!.id], 'the ids come back in the order of the accounts');
        assert.equal((await a.get('ben@praxis.example')).usedBytes, blob.size);
        const blob2 = await putBlob(ts, 'Subject: y\r\n\r\n0123456789\r\n');
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
      withStore(t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        const m = new Mailboxes(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const anna = await a.add({ address: 'anna@praxis.example', password: 'password1' });
        await m.file(await putBlob(ts, 'one\r\n'), [anna.id]);
        const [first] = await m.list(anna.id);
        await m.expunge(anna.id, [first!.id]);
        await m.file(await putBlob(ts, 'two\r\n'), [anna.id]);
        const [second] = await m.list(anna.id);
        assert.notEqual(second!.uid, first!.uid);
      }));

    test('garbage collection removes only unreferenced blobs past the grace period', (t) =>
      withStore(t, async (ts) => {
        const a = new Accounts(ts.store.db, ts.store.blobs);
        const m = new Mailboxes(ts.store.db, ts.store.blobs);
        await a.addDomain('praxis.example');
        const anna = await a.add({ address: 'anna@praxis.example', password: 'password1' });
        const kept = await putBlob(ts, 'filed\r\n');
        await m.file(kept, [anna.id]);
        const orphan = await putBlob(ts, 'never filed: the server crashed before COMMIT\r\n');
        const young = await collectGarbageBlobs(ts.store.db, ts.store.blobs, 3_600_000);
        assert.equal(young.deleted, 0, 'a blob of a delivery that may still be in flight is kept');
        const later = await collectGarbageBlobs(ts.store.db, ts.store.blobs, 3_600_000, Date.now() + 7_200_000);
        assert.deepEqual(later, { examined: 2, deleted: 1 });
        await ts.store.blobs.get(kept.hash);
        await assert.rejects(ts.store.blobs.get(orphan.hash));
      }));

    test('the database blob backend stores and removes blobs', (t) =>
      withStore(
        t,
        async (ts) => {
          const b = await putBlob(ts, 'hello blob');
          assert.equal((await ts.store.blobs.get(b.hash)).toString(), 'hello blob');
          const listed = (await collect(ts.store.blobs.list())).map((x) => x.hash);
          assert.deepEqual(listed, [b.hash]);
          await ts.store.blobs.delete(b.hash);
          await assert.rejects(ts.store.blobs.get(b.hash));
        },
        { blobs: { backend: 'database' } },
      ));

    test('the database blob writer: one row per content, refuses a blob over its limit, aborted writes leave nothing', (t) =>
      withStore(t, async (ts) => {
        const blobs = new DatabaseBlobStore(ts.store.db, 10);
        const write = async (text: string): Promise<{ hash: string; size: number }> => {
          const w = await blobs.writer();
          await w.write(Buffer.from(text.slice(0, 3)));
          await w.write(Buffer.from(text.slice(3)));
          return w.commit();
        };
        const a = await write('ten bytes!');
        assert.deepEqual(await write('ten bytes!'), a, 'the same bytes twice: one blob');
        assert.equal((await blobs.get(a.hash)).toString(), 'ten bytes!');
        const big = await blobs.writer();
        await big.write(Buffer.from('123456'));
        await assert.rejects(big.write(Buffer.from('78901')), /blob larger than 10 bytes/);
        await big.abort();
        const dropped = await blobs.writer();
        await dropped.write(Buffer.from('dropped'));
        await dropped.abort();
        const listed = (await collect(blobs.list())).map((x) => x.hash);
        assert.deepEqual(listed, [a.hash]);
      }));
  });
}

describe('file blob store', () => {
  test('is content-addressed, leaves no temp files, and rejects non-hash names', async (t) => {
    const ts = await openTestStore('sqlite');
    if (!ts) return t.skip();
    try {
      const blobs = ts.store.blobs as FileBlobStore;
      const a = await putBlob(ts, 'same bytes');
      const b = await putBlob(ts, 'same bytes');
      assert.equal(a.hash, b.hash);
      assert.ok(existsSync(blobs.pathOf(a.hash)));
      assert.deepEqual(readdirSync(join(ts.dir, 'blobs', 'tmp')), [], 'no temp files remain after commit');
      const w = await blobs.writer();
      await w.write(Buffer.from('abandoned'));
      await w.abort();
      assert.deepEqual(readdirSync(join(ts.dir, 'blobs', 'tmp')), [], 'no temp files remain after abort');
      await assert.rejects(blobs.get('../../etc/passwd'), /not a blob address/);
      const w2 = await blobs.writer();
      await w2.write(Buffer.alloc(2 * 1024 * 1024, 1)); // over the in-memory threshold: a temp file exists now
      assert.equal(readdirSync(join(ts.dir, 'blobs', 'tmp')).length, 1);
      assert.equal(await removeStaleTempFiles(join(ts.dir, 'blobs', 'tmp'), 3_600_000), 0, 'a fresh temp file is kept');
      assert.equal(await removeStaleTempFiles(join(ts.dir, 'blobs', 'tmp'), 3_600_000, Date.now() + 7_200_000), 1);
      await w2.abort();
    } finally {
      await ts.close();
    }
  });

  for (const ioThreads of [2, 0]) {
    test(`ioThreads ${ioThreads}: small, threshold-sized and streamed blobs read back byte for byte, concurrently, with nothing left in tmp`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'postamt-blobs-'));
      const blobs = await new FileBlobStore(root, 64 * 1024, ioThreads).init();
      try {
        const rand = prng(ioThreads + 7);
        const bodies = Array.from({ length: 40 }, (_, i) => {
          const size = [0, 1, 100, 64 * 1024 - 1, 64 * 1024, 300 * 1024][i % 6]!;
          return Buffer.from(Array.from({ length: size }, () => Math.floor(rand() * 256)));
        });
        const stored = await Promise.all(
          bodies.map(async (body) => {
            const w = await blobs.writer();
            // In uneven chunks, as a socket delivers them.
            for (let at = 0; at < body.length; ) {
              const n = 1 + Math.floor(rand() * 40_000);
              await w.write(body.subarray(at, at + n));
              at += n;
            }
            return w.commit();
          }),
        );
        for (const [i, s] of stored.entries()) {
          assert.equal(s.size, bodies[i]!.length);
          assert.ok((await blobs.get(s.hash, s.size)).equals(bodies[i]!), `blob ${i} (${s.size} bytes) reads back as written`);
        }
        assert.deepEqual(readdirSync(join(root, 'tmp')), []);
      } finally {
        await blobs.close();
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  for (const ioThreads of [2, 0]) {
    test(`ioThreads ${ioThreads}: a committed or aborted writer refuses more; an abort before the temp file exists leaves none`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'postamt-blobs-'));
      const blobs = await new FileBlobStore(root, 64 * 1024, ioThreads).init();
      try {
        const w = await blobs.writer();
        await w.write(Buffer.from('once'));
        assert.equal((await w.commit()).size, 4);
        await assert.rejects(w.write(Buffer.from('more')), /already finished/);
        await assert.rejects(w.commit(), /already finished/);
        // Without blob threads the temp file is being created in libuv's pool right now.
        const early = await blobs.writer();
        await early.abort();
        await assert.rejects(early.write(Buffer.from('late')), /already finished/);
        const streamed = await blobs.writer();
        await streamed.write(Buffer.alloc(100 * 1024, 7)); // beyond the threshold: a temp file
        await streamed.abort();
        await assert.rejects(streamed.commit(), /already finished/);
        await until('the temp directory to be empty', async () => readdirSync(join(root, 'tmp')).length === 0);
      } finally {
        await blobs.close();
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  test('password hashes with other parameters still verify; malformed ones never match', async () => {
    const h = await hashPassword('secret pw', { ln: 12, r: 8, p: 1 });
    assert.ok(await verifyPassword('secret pw', h));
    assert.equal(await verifyPassword('secret pw', '$scrypt$garbage'), false);
    assert.equal(await verifyPassword('secret pw', ''), false);
    assert.equal(await verifyPassword('secret pw', h.replace('ln=12', 'ln=40')), false);
  });
});

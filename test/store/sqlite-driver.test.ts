import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.js';
import { WalSync } from '../../src/store/wal-sync.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { collect } from '../helpers/stream.js';

async function withDb(fn: (h: DatabaseHandle, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'postamt-driver-'));
  const h = await openDatabase({ url: 'sqlite:db.sqlite', dataDir: dir });
  try {
    await fn(h, dir);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite driver: durability off the event loop', () => {
  test('runs in WAL mode at synchronous=NORMAL (the driver syncs the WAL itself); :memory: stays FULL', async () => {
    await withDb(async (h, dir) => {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(h.db);
      assert.equal(mode.rows[0]!.journal_mode, 'wal');
      const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(h.db);
      assert.equal(sync.rows[0]!.synchronous, 1, 'NORMAL');
      await h.db.insertInto('domains').values({ name: 'a.example', created_at: Date.now() }).execute();
      assert.ok(existsSync(join(dir, 'db.sqlite-wal')));
    });
    const mem = await openDatabase({ url: 'sqlite::memory:', dataDir: tmpdir() });
    try {
      const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(mem.db);
      assert.equal(sync.rows[0]!.synchronous, 2, 'FULL');
      await mem.db.insertInto('domains').values({ name: 'a.example', created_at: Date.now() }).execute();
    } finally {
      await mem.close();
    }
  });

  test('a COMMIT lets the next holder in before its WAL sync resolves; the commit resolves after it', async () => {
    await withDb(async (h) => {
      const order: string[] = [];
      const trx = await h.db.startTransaction().execute();
      await trx.insertInto('domains').values({ name: 'a.example', created_at: Date.now() }).execute();
      // Queued behind the open transaction: it can only run once the connection is handed back.
      const read = h.db.selectFrom('domains').select('name').execute().then((rows) => order.push(`read ${rows.length}`));
      const commit = trx.commit().execute().then(() => order.push('commit durable'));
      await Promise.all([read, commit]);
      assert.deepEqual(order, ['read 1', 'commit durable'], 'the reader saw the committed row while the WAL was still being synced');
    });
  });

  test('commits during one running fdatasync share the next; a later call waits for a sync that started after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postamt-walsync-'));
    try {
      const path = join(dir, 'x-wal');
      writeFileSync(path, 'frames');
      const wal = new WalSync(path);
      const first = wal.sync();
      const second = wal.sync();
      const third = wal.sync();
      assert.notEqual(first, second, 'a sync already running may have started before the caller wrote');
      assert.equal(second, third, 'callers waiting behind a running sync share the next one');
      await Promise.all([first, second, third]);
      const fourth = wal.sync();
      assert.notEqual(fourth, third);
      await fourth;
      await wal.close();
      // A missing WAL is an error the caller sees (its commit is not acknowledged).
      const missing = new WalSync(join(dir, 'nothing-wal'));
      await assert.rejects(missing.sync(), /ENOENT/);
      await missing.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rollbacks, failing statements and savepoints leave the connection usable', async () => {
    await withDb(async (h) => {
      await h.db.insertInto('domains').values({ name: 'a.example', created_at: Date.now() }).execute();
      await assert.rejects(h.db.insertInto('domains').values({ name: 'a.example', created_at: Date.now() }).execute(), /UNIQUE/);
      await assert.rejects(
        h.db.transaction().execute(async (trx) => {
          await trx.insertInto('domains').values({ name: 'b.example', created_at: Date.now() }).execute();
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      const commits = new GroupCommit(h.db);
      const results = await Promise.allSettled([
        commits.submit((trx) => trx.insertInto('domains').values({ name: 'c.example', created_at: Date.now() }).execute()),
        commits.submit((trx) => trx.insertInto('domains').values({ name: 'a.example', created_at: Date.now() }).execute()),
        commits.submit((trx) => trx.insertInto('domains').values({ name: 'd.example', created_at: Date.now() }).execute()),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'], 'one failing request does not take its batch with it');
      const names = (await h.db.selectFrom('domains').select('name').orderBy('name').execute()).map((r) => r.name);
      assert.deepEqual(names, ['a.example', 'c.example', 'd.example']);
      // Streaming still works through the driver.
      const streamed = (await collect(h.db.selectFrom('domains').select('name').orderBy('name').stream())).map((r) => r.name);
      assert.deepEqual(streamed, names);
    });
  });
});

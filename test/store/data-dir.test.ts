import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, testConfig } from '../helpers/env.js';
import { dataPaths, findExposedPaths, makePrivate, openStore, writeBlob } from '../../src/store/index.js';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('data directory modes', () => {
  // A library or an in-process caller may run under the usual 0022 umask: the store's own modes must hold anyway.
  for (const ioThreads of [2, 0]) {
    test(`the database, its WAL and shared memory, blob folders, blobs and temp files are private under umask 0022 (ioThreads ${ioThreads})`, async () => {
      const previous = process.umask(0o022);
      const d = tempDir();
      try {
        const config = testConfig(join(d.path, 'data'), { blobs: { ioThreads } });
        const store = await openStore(config);
        try {
          await store.db.insertInto('domains').values({ name: 'praxis.example', created_at: Date.now() }).execute();
          const small = await writeBlob(store.blobs, Buffer.from('Subject: small\r\n\r\nbody\r\n'));
          // Beyond the 1 MiB memory threshold: streamed through a temp file opened in libuv's pool.
          const big = await store.blobs.writer();
          await big.write(Buffer.alloc(1024 * 1024 + 10, 0x61));
          const large = await big.commit();
          // A temp file while it is being written.
          const open = await store.blobs.writer();
          await open.write(Buffer.alloc(1024 * 1024 + 10, 0x62));
          const data = config.dataDir;
          assert.equal(mode(data), 0o700, 'data directory');
          for (const f of ['postamt.db', 'postamt.db-wal', 'postamt.db-shm']) assert.equal(mode(join(data, f)), 0o600, f);
          assert.equal(mode(join(data, 'blobs')), 0o700, 'blobs/');
          assert.equal(mode(join(data, 'blobs', 'tmp')), 0o700, 'blobs/tmp/');
          for (const b of [small, large]) {
            assert.equal(mode(join(data, 'blobs', b.hash.slice(0, 2))), 0o700, `fan-out folder of ${b.hash}`);
            assert.equal(mode(join(data, 'blobs', b.hash.slice(0, 2), b.hash)), 0o600, `blob ${b.hash}`);
          }
          const temps = readdirSync(join(data, 'blobs', 'tmp'));
          assert.equal(temps.length, 1);
          assert.equal(mode(join(data, 'blobs', 'tmp', temps[0]!)), 0o600, 'temp file');
          await open.abort();
          assert.deepEqual(findExposedPaths(dataPaths(config)), []);
        } finally {
          await store.close();
        }
      } finally {
        process.umask(previous);
        d.cleanup();
      }
    });
  }

  test('findExposedPaths lists what group/others may access; makePrivate removes exactly those bits, links untouched', () => {
    const d = tempDir();
    try {
      const data = join(d.path, 'data');
      mkdirSync(join(data, 'blobs', 'ab'), { recursive: true });
      writeFileSync(join(data, 'postamt.db'), 'x');
      writeFileSync(join(data, 'blobs', 'ab', 'abcd'), 'x');
      writeFileSync(join(data, 'admin-token'), 'x', { mode: 0o600 });
      writeFileSync(join(d.path, 'outside'), 'x');
      symlinkSync(join(d.path, 'outside'), join(data, 'link'));
      chmodSync(data, 0o755);
      chmodSync(join(data, 'blobs'), 0o750);
      chmodSync(join(data, 'blobs', 'ab'), 0o711);
      chmodSync(join(data, 'postamt.db'), 0o644);
      chmodSync(join(data, 'blobs', 'ab', 'abcd'), 0o664);
      chmodSync(join(d.path, 'outside'), 0o644);
      const config = testConfig(data);
      const exposed = findExposedPaths(dataPaths(config));
      assert.deepEqual(
        exposed.map((e) => [e.path.slice(data.length), e.mode.toString(8)]).sort(),
        [['', '755'], ['/blobs', '750'], ['/blobs/ab', '711'], ['/blobs/ab/abcd', '664'], ['/postamt.db', '644']],
      );
      assert.deepEqual(makePrivate(dataPaths(config)), { changed: 5, failed: [] });
      assert.deepEqual(findExposedPaths(dataPaths(config)), []);
      assert.equal(mode(data), 0o700);
      assert.equal(mode(join(data, 'blobs', 'ab')), 0o700);
      assert.equal(mode(join(data, 'blobs', 'ab', 'abcd')), 0o600);
      assert.equal(mode(join(data, 'admin-token')), 0o600);
      assert.equal(mode(join(d.path, 'outside')), 0o644, 'a link is not followed out of the data directory');
      assert.deepEqual(makePrivate(dataPaths(config)), { changed: 0, failed: [] }, 'nothing left to do');
    } finally {
      d.cleanup();
    }
  });

  test('a database file and a blob folder outside the data directory are checked too', () => {
    const d = tempDir();
    try {
      const config = testConfig(join(d.path, 'data'), { database: { url: `sqlite:${join(d.path, 'db', 'mail.db')}` }, blobs: { path: join(d.path, 'store') } });
      assert.deepEqual(dataPaths(config), [join(d.path, 'data'), join(d.path, 'db', 'mail.db'), join(d.path, 'db', 'mail.db-wal'), join(d.path, 'db', 'mail.db-shm'), join(d.path, 'store')]);
      // Inside it, they are part of its walk.
      assert.deepEqual(dataPaths(testConfig(join(d.path, 'data'), { blobs: { path: 'b' } })), [join(d.path, 'data')]);
    } finally {
      d.cleanup();
    }
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { prng } from '../../helpers/prng.js';
import { join } from 'node:path';
import { openTestStore, storeBlob } from '../../helpers/env.js';
import { FileBlobStore, removeStaleTempFiles } from '../../../src/store/index.js';
import { until } from '../../helpers/wait.js';

describe('file blob store', () => {
  test('is content-addressed, leaves no temp files, and rejects non-hash names', async (t) => {
    const ts = await openTestStore('sqlite');
    if (!ts) return t.skip();
    try {
      const blobs = ts.store.blobs as FileBlobStore;
      const a = await storeBlob(ts, 'same bytes');
      const b = await storeBlob(ts, 'same bytes');
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
});

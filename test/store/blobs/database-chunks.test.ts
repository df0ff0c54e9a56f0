import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { STORE_KINDS, withTestStore, type TestStore } from '../../helpers/env.js';
import { DatabaseBlobStore } from '../../../src/store/index.js';
import { collectGarbageBlobs } from '../../../src/store/blob-gc.js';
import { collect } from '../../helpers/stream.js';

const MB = 1024 * 1024;
const SIZE = 50 * 1000 * 1000;

// The runner starts node without --expose-gc; the flag can still be set at run time and `gc`
// taken from a fresh context, so the baseline is live memory rather than leftover garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live external memory (Buffers) and RSS after a full collection. */
function settled(): { ab: number; rss: number } {
  // Twice: a Buffer's memory is only returned once a second collection runs its finalizer.
  gc();
  gc();
  const m = process.memoryUsage();
  return { ab: m.arrayBuffers, rss: m.rss };
}

/** Tracks the peak growth over a baseline; sampled as the test goes, collecting each time so garbage is not counted as held. */
class Peak {
  private readonly base = settled();
  ab = 0;
  rss = 0;
  sample(): void {
    const now = settled();
    this.ab = Math.max(this.ab, now.ab - this.base.ab);
    this.rss = Math.max(this.rss, now.rss - this.base.rss);
  }
}

async function chunkRows(ts: TestStore): Promise<number> {
  const r = await ts.store.db.selectFrom('blob_chunks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

async function uploadRows(ts: TestStore): Promise<number> {
  const r = await ts.store.db.selectFrom('blob_uploads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

async function write(blobs: DatabaseBlobStore, pieces: Buffer[]): Promise<{ hash: string; size: number }> {
  const w = await blobs.writer();
  for (const p of pieces) await w.write(p);
  return w.commit();
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const kind of STORE_KINDS) {
  describe(`chunked database blobs on ${kind}`, () => {
    test('a 50 MB blob is written and streamed back with bounded memory, and its hash is right', (t) =>
      withTestStore(kind, t, async (ts) => {
        const blobs = new DatabaseBlobStore(ts.store.db, { chunkBytes: MB });
        // One 64 KiB random piece reused (like SMTP's chunks, each a fresh Buffer of the
        // caller's), varied by its first bytes so no two chunks are equal.
        const piece = randomBytes(64 * 1024);
        // Warm up first (code paths, statement caches, the pool's connections), so the baseline
        // holds what any blob needs and the growth is what this one's size costs.
        const warm = await write(blobs, [randomBytes(4 * MB)]);
        await collect((await blobs.stream(warm.hash)) as AsyncIterable<Buffer>);
        await blobs.delete(warm.hash);
        const peak = new Peak();
        const hash = createHash('sha256');
        const w = await blobs.writer();
        for (let at = 0, i = 0; at < SIZE; at += piece.length, i++) {
          const p = Buffer.from(piece.subarray(0, Math.min(piece.length, SIZE - at)));
          p.writeUInt32BE(i, 0);
          hash.update(p);
          await w.write(p);
          if (i % 64 === 0) peak.sample();
        }
        const blob = await w.commit();
        peak.sample();
        const writePeak = { ab: peak.ab, rss: peak.rss };
        assert.deepEqual(blob, { hash: hash.digest('hex'), size: SIZE });
        assert.equal(await chunkRows(ts), Math.ceil(SIZE / MB));
        assert.equal(await uploadRows(ts), 0, 'the upload row went with the commit');

        const readPeak = new Peak();
        const back = createHash('sha256');
        let n = 0;
        let most = 0;
        const stream = await blobs.stream(blob.hash);
        for await (const c of stream as AsyncIterable<Buffer>) {
          back.update(c);
          n += c.length;
          // Backpressure: the stream reads the next chunk only when this loop asks for it.
          most = Math.max(most, stream.readableLength);
          if (n % (8 * MB) < c.length) readPeak.sample();
        }
        readPeak.sample();
        assert.equal(n, SIZE);
        assert.equal(back.digest('hex'), blob.hash);
        assert.ok(most <= MB, `at most one chunk waits in the stream (saw ${most} bytes)`);
        const limit = 16 * MB;
        assert.ok(writePeak.ab < limit, `write held ${(writePeak.ab / MB).toFixed(1)} MB of buffers`);
        assert.ok(readPeak.ab < limit, `read held ${(readPeak.ab / MB).toFixed(1)} MB of buffers`);
        // RSS is a looser ceiling than the buffers held: V8 collects dead Buffers only once about
        // 64 MB of external memory has been allocated since the last collection (Node 24 waits
        // that long where Node 20 collected sooner), and the allocator keeps what was freed. That
        // ceiling is the same for a blob of any size; the held-buffers bound above is the proof.
        const rssLimit = 96 * MB;
        assert.ok(writePeak.rss < rssLimit, `write grew RSS by ${(writePeak.rss / MB).toFixed(1)} MB`);
        assert.ok(readPeak.rss < rssLimit, `read grew RSS by ${(readPeak.rss / MB).toFixed(1)} MB`);
        t.diagnostic(
          `growth MB: write buffers ${(writePeak.ab / MB).toFixed(1)} rss ${(writePeak.rss / MB).toFixed(1)}; read buffers ${(readPeak.ab / MB).toFixed(1)} rss ${(readPeak.rss / MB).toFixed(1)}`,
        );

        await blobs.delete(blob.hash);
        assert.equal(await chunkRows(ts), 0, 'delete removes the chunks with the row');
        await assert.rejects(blobs.stream(blob.hash), { code: 'ENOENT' });
      }));

    test('sizes around the chunk size, one row or chunks, read whole and streamed; list sees both kinds', (t) =>
      withTestStore(kind, t, async (ts) => {
        const chunk = 64 * 1024;
        const blobs = new DatabaseBlobStore(ts.store.db, { chunkBytes: chunk });
        const sizes = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 3 * chunk + chunk / 2];
        const stored: string[] = [];
        for (const size of sizes) {
          const data = randomBytes(size);
          // In odd pieces, and once more as a single write of everything.
          const pieces: Buffer[] = [];
          for (let at = 0; at < size; at += 10_007) pieces.push(data.subarray(at, at + 10_007));
          const a = await write(blobs, pieces);
          assert.deepEqual(a, { hash: sha(data), size }, `size ${size}`);
          assert.deepEqual(await write(blobs, [data]), a, `size ${size} in one write`);
          assert.ok((await blobs.get(a.hash)).equals(data), `get, size ${size}`);
          assert.ok(Buffer.concat(await collect((await blobs.stream(a.hash)) as AsyncIterable<Buffer>)).equals(data), `stream, size ${size}`);
          stored.push(a.hash);
        }
        const rows = await ts.store.db.selectFrom('blobs').select(['size', 'chunk_id']).orderBy('size').execute();
        assert.deepEqual(
          rows.map((r) => [r.size, r.chunk_id !== null]),
          sizes.map((s) => [s, s > chunk]),
          'blobs up to one chunk are one row, larger ones chunked',
        );
        assert.equal(await chunkRows(ts), 2 + 3 + 4, 'repeats of a content kept no chunks of their own');
        const listed = (await collect(blobs.list())).map((x) => x.hash);
        assert.deepEqual(listed, [...stored].sort());
        for (const h of stored) await blobs.delete(h);
        assert.deepEqual(await collect(blobs.list()), []);
        assert.equal(await chunkRows(ts), 0);
      }));

    test('a writer that never commits leaves no blob; abort and sweepTemp remove its chunks; a swept writer cannot commit', (t) =>
      withTestStore(kind, t, async (ts) => {
        const chunk = 64 * 1024;
        const blobs = new DatabaseBlobStore(ts.store.db, { chunkBytes: chunk });
        const data = randomBytes(5 * chunk);

        const aborted = await blobs.writer();
        await aborted.write(data);
        assert.equal(await chunkRows(ts), 4, 'chunks are written before commit');
        await aborted.abort();
        assert.equal(await chunkRows(ts), 0);
        assert.equal(await uploadRows(ts), 0);

        // A crashed node: chunks written, no commit, no abort.
        const crashed = await blobs.writer();
        await crashed.write(data);
        assert.deepEqual(await collect(blobs.list()), [], 'an uncommitted blob is not visible');
        assert.equal(await blobs.sweepTemp(3_600_000), 0, 'a fresh upload is within its grace');
        assert.equal(await chunkRows(ts), 4);
        assert.equal(await blobs.sweepTemp(0, Date.now() + 1), 1);
        assert.equal(await chunkRows(ts), 0);
        assert.equal(await uploadRows(ts), 0);
        // The "crashed" writer comes back after all: its commit fails and leaves nothing.
        await assert.rejects(crashed.commit(), /removed as stale/);
        await crashed.abort();
        assert.deepEqual(await collect(blobs.list()), []);
        assert.equal(await chunkRows(ts), 0);

        // Swept between two chunks: the next chunk fails instead of writing an orphan.
        const late = await blobs.writer();
        await late.write(data.subarray(0, 2 * chunk));
        await blobs.sweepTemp(0, Date.now() + 1);
        await assert.rejects(late.write(data.subarray(2 * chunk)), /removed as stale/);
        await late.abort();
        assert.equal(await chunkRows(ts), 0);

        // An abort after a successful commit must not take the published chunks.
        const done = await blobs.writer();
        await done.write(data);
        const b = await done.commit();
        await done.abort();
        assert.ok((await blobs.get(b.hash)).equals(data));
      }));

    test('concurrent writers of the same content: one blob, one set of chunks', (t) =>
      withTestStore(kind, t, async (ts) => {
        const chunk = 64 * 1024;
        const blobs = new DatabaseBlobStore(ts.store.db, { chunkBytes: chunk });
        const data = randomBytes(4 * chunk + 5);
        const writers = await Promise.all([1, 2, 3, 4].map(() => blobs.writer()));
        for (let at = 0; at < data.length; at += 20_000) await Promise.all(writers.map((w) => w.write(data.subarray(at, at + 20_000))));
        const results = await Promise.all(writers.map((w) => w.commit()));
        for (const r of results) assert.deepEqual(r, { hash: sha(data), size: data.length });
        assert.equal((await collect(blobs.list())).length, 1);
        assert.equal(await chunkRows(ts), 5);
        assert.equal(await uploadRows(ts), 0);
        assert.ok((await blobs.get(results[0]!.hash)).equals(data));
      }));

    test('blob GC removes an unreferenced chunked blob with its chunks', (t) =>
      withTestStore(
        kind,
        t,
        async (ts) => {
          const big = Buffer.alloc(3 * MB + 1, 7);
          const blob = await write(ts.store.blobs as DatabaseBlobStore, [big]);
          assert.equal(await chunkRows(ts), 4);
          assert.deepEqual(await collectGarbageBlobs(ts.store.db, ts.store.blobs, 3_600_000), { examined: 1, deleted: 0 });
          assert.deepEqual(await collectGarbageBlobs(ts.store.db, ts.store.blobs, 0, Date.now() + 1), { examined: 1, deleted: 1 });
          assert.equal(await chunkRows(ts), 0);
          await assert.rejects(ts.store.blobs.get(blob.hash), { code: 'ENOENT' });
        },
        { blobs: { backend: 'database' } },
      ));

    test('the size limit holds for chunked blobs and the rejected writer leaves nothing', (t) =>
      withTestStore(kind, t, async (ts) => {
        const blobs = new DatabaseBlobStore(ts.store.db, { chunkBytes: 64 * 1024, maxSizeBytes: 200_000 });
        const w = await blobs.writer();
        await w.write(Buffer.alloc(150_000));
        await assert.rejects(w.write(Buffer.alloc(60_000)), /blob larger than 200000 bytes/);
        await w.abort();
        assert.equal(await chunkRows(ts), 0);
        assert.equal(await uploadRows(ts), 0);
      }));
  });
}

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, storeBlob, withTestStore } from '../../helpers/env.js';
import { DatabaseBlobStore } from '../../../src/store/index.js';
import { collect } from '../../helpers/stream.js';

for (const kind of STORE_KINDS) {
  describe(`database blob store on ${kind}`, () => {
    test('the database blob backend stores and removes blobs', (t) =>
      withTestStore(
        kind,
        t,
        async (ts) => {
          const b = await storeBlob(ts, 'hello blob');
          assert.equal((await ts.store.blobs.get(b.hash)).toString(), 'hello blob');
          const listed = (await collect(ts.store.blobs.list())).map((x) => x.hash);
          assert.deepEqual(listed, [b.hash]);
          await ts.store.blobs.delete(b.hash);
          await assert.rejects(ts.store.blobs.get(b.hash));
        },
        { blobs: { backend: 'database' } },
      ));

    test('the database blob writer: one row per content, refuses a blob over its limit, aborted writes leave nothing', (t) =>
      withTestStore(kind, t, async (ts) => {
        const blobs = new DatabaseBlobStore(ts.store.db, { maxSizeBytes: 10 });
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

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS } from '../helpers/env.js';
import { pop3Fixture, PASSWORD } from '../helpers/pop3-fixture.js';
import { poplib, bodyOf } from '../helpers/poplib.js';

const COUNT = 8000;
/** Three contents of different sizes, shared by many rows (blobs are content-addressed). */
const BODIES = ['From: a@example.org\r\n\r\nshort\r\n', 'From: b@example.org\r\n\r\n.a dotted line\r\nand more text\r\n', `From: c@example.org\r\n\r\n${'x'.repeat(3000)}\r\n`];

for (const kind of STORE_KINDS) {
  describe(`POP3 with an 8,000-message maildrop on ${kind}`, () => {
    test('STAT, LIST and UIDL list every message right; DELE and RSET keep STAT right; RETR of the last', async (t) => {
      const fx = await pop3Fixture(kind);
      if (!fx) return t.skip('PostgreSQL tests skipped (POSTAMT_TEST_SKIP_PG=1)');
      try {
        const acc = await fx.account();
        const blobs = [];
        for (const b of BODIES) {
          const w = await fx.ts.store.blobs.writer();
          await w.write(Buffer.from(b));
          blobs.push(await w.commit());
        }
        // Rows straight into the store, in chunks: filing 8,000 messages one by one is not what is tested.
        const sizes: number[] = [];
        for (let from = 0; from < COUNT; from += 500) {
          const rows = [];
          for (let i = from; i < Math.min(COUNT, from + 500); i++) {
            const blob = blobs[i % 7 === 0 ? 2 : i % 2]!;
            sizes.push(blob.size);
            rows.push({ account_id: acc.id, blob_hash: blob.hash, size: blob.size, received_at: 1_000 + i });
          }
          await fx.ts.store.db.insertInto('messages').values(rows).execute();
        }
        const uids = await fx.uids(acc);
        assert.equal(uids.length, COUNT);
        const total = sizes.reduce((a, b) => a + b, 0);
        const r = await poplib(fx.plainPort, 'plain', acc.address, PASSWORD, [
          ['stat'],
          ['list'],
          ['uidl'],
          ['dele', 1],
          ['dele', COUNT],
          ['dele', 1],
          ['stat'],
          ['list'],
          ['rset'],
          ['stat'],
          ['retr', COUNT],
          ['quit'],
        ]);
        assert.deepEqual(r.results[0], [COUNT, total]);
        assert.deepEqual(r.results[1], sizes.map((s, i) => `${i + 1} ${s}`));
        assert.deepEqual(r.results[2], uids.map((u, i) => `${i + 1} ${u}`));
        assert.deepEqual(r.results[5], { error: '-ERR message 1 already deleted' });
        assert.deepEqual(r.results[6], [COUNT - 2, total - sizes[0]! - sizes[COUNT - 1]!]);
        const listed = r.results[7] as string[];
        assert.equal(listed.length, COUNT - 2);
        assert.equal(listed[0], `2 ${sizes[1]}`);
        assert.equal(listed.at(-1), `${COUNT - 1} ${sizes[COUNT - 2]}`);
        assert.deepEqual(r.results[9], [COUNT, total]);
        assert.equal(bodyOf(r.results[10]).toString(), BODIES[(COUNT - 1) % 7 === 0 ? 2 : (COUNT - 1) % 2]);
      } finally {
        await fx.close();
      }
    });
  });
}

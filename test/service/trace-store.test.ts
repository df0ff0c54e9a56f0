import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, withTestStore } from '../helpers/env.js';
import { GroupCommit } from '../../src/store/index.js';
import { MessageTrace, headerFacts } from '../../src/service/index.js';

const DAY = 86_400_000;

/** Traces `n` accepted messages, one a minute from `start`, as the delivery would (once committed). */
function traceMessages(trace: MessageTrace, n: number, start: number, prefix = 'Q'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const queueId = `${prefix}${String(i).padStart(4, '0')}`;
    ids.push(queueId);
    trace.accepted({
      queueId,
      receivedAt: start + i * 60_000,
      mailFrom: 'alice@a.test',
      recipients: [i % 2 ? 'bob@a.test' : 'carol@a.test'],
      size: 1000 + i,
      header: { messageId: `m${i}@a.test`, komle: false },
      session: { listener: 'smtp-submission', clientIp: '127.0.0.1', tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, authUser: 'alice@a.test' },
      refused: [],
      delivered: [{ address: i % 2 ? 'bob@a.test' : 'carol@a.test', mailboxMessageId: 1000 + i }],
      relayed: [],
      mailin: [],
    });
  }
  return ids;
}

describe('the header facts the trace keeps', () => {
  test('Message-ID without brackets, lower case; KOM-LE only with application/pkcs7-mime and X-KOM-LE-Version', () => {
    assert.deepEqual(headerFacts(Buffer.from('Message-ID:  <AbC@Example.TEST>\r\nSubject: secret\r\n\r\nbody')), { messageId: 'abc@example.test', komle: false });
    assert.deepEqual(headerFacts(Buffer.from('Content-Type: application/pkcs7-mime; smime-type=authenveloped-data\r\nX-KOM-LE-Version: 1.0\r\n\r\n')), { messageId: null, komle: true });
    assert.equal(headerFacts(Buffer.from('Content-Type: application/pkcs7-mime\r\n\r\n')).komle, false, 'S/MIME without X-KOM-LE-Version');
    assert.equal(headerFacts(Buffer.from('X-KOM-LE-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n')).komle, false);
    assert.deepEqual(headerFacts(Buffer.from('no header at all, just garbage without a colon\r\n\r\n')), { messageId: null, komle: false });
  });
});

for (const kind of STORE_KINDS) {
  describe(`the trace store (${kind})`, () => {
    test('keyset paging: newest first, pages of `limit`, no message twice or missing; filters combine with the cursor', (t) =>
      withTestStore(kind, t, async (ts) => {
        const trace = new MessageTrace(ts.store.db, new GroupCommit(ts.store.db), { retentionDays: 30, node: 'n1' });
        const start = Date.UTC(2026, 11, 1);
        const ids = traceMessages(trace, 23, start);
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await trace.list({ limit: 5, ...(cursor ? { cursor } : {}) });
          pages++;
          assert.ok(page.items.length <= 5);
          seen.push(...page.items.map((m) => m.id));
          cursor = page.next;
        } while (cursor);
        assert.equal(pages, 5);
        assert.deepEqual(seen, [...ids].reverse());

        const bob = await trace.list({ address: 'bob@a.test', limit: 3 });
        assert.deepEqual(bob.items.map((m) => m.id), ['Q0021', 'Q0019', 'Q0017']);
        const bob2 = await trace.list({ address: 'bob@a.test', limit: 3, cursor: bob.next! });
        assert.deepEqual(bob2.items.map((m) => m.id), ['Q0015', 'Q0013', 'Q0011']);
        const window = await trace.list({ from: start + 5 * 60_000, to: start + 8 * 60_000 });
        assert.deepEqual(window.items.map((m) => m.id), ['Q0007', 'Q0006', 'Q0005'], 'from inclusive, to exclusive');
        assert.equal(window.next, undefined);
        assert.deepEqual((await trace.list({ messageId: '<M7@A.TEST>' })).items.map((m) => m.id), ['Q0007']);
        await assert.rejects(trace.list({ cursor: 'bm90IGEgY3Vyc29y' }), { code: 'usage' });
        await assert.rejects(trace.get('NOSUCH'), { code: 'not-found' });
      }));

    test('written behind the work: in the order recorded, many messages per flush; reads see everything recorded; maxPending bounds memory; nothing after close', (t) =>
      withTestStore(kind, t, async (ts) => {
        const trace = new MessageTrace(ts.store.db, new GroupCommit(ts.store.db), { retentionDays: 30, node: 'n1', flushMs: 60_000, maxPending: 100 });
        const start = Date.UTC(2026, 11, 1);
        // A message, then at once its relay outcome (status) and a POP3 fetch of its mailbox row: all in one flush.
        traceMessages(trace, 70, start);
        trace.events('Q0003', [{ kind: 'relay-attempt', detail: { domain: 'b.test' } }, { kind: 'relayed', detail: { domain: 'b.test' } }], 'relayed');
        trace.mailboxEvents('fetched', 'bob@a.test', [1003]);
        const before = Number((await ts.store.db.selectFrom('trace_messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
        assert.equal(before, 0, 'nothing written before the flush (flushMs is a minute here)');
        // get() writes what is pending first.
        const d = await trace.get('Q0003');
        assert.equal(d.status, 'relayed');
        assert.deepEqual(d.events.map((e) => e.kind), ['accepted', 'stored', 'delivered', 'relay-attempt', 'relayed', 'fetched']);
        assert.equal((await trace.list({ limit: 100 })).items.length, 70);
        // Over maxPending: the rest is dropped and counted, not kept.
        traceMessages(trace, 130, start + DAY, 'R');
        assert.equal(trace.dropped, 30);
        await trace.flush();
        assert.equal((await trace.list({ limit: 500 })).items.length, 170);
        await trace.close();
        traceMessages(trace, 1, start + 2 * DAY, 'S');
        assert.equal((await trace.list({ limit: 500 })).items.length, 170, 'nothing is recorded after close');
      }));

    test('retention: traces of messages older than retentionDays go (with their addresses and events), counted; newer ones stay', (t) =>
      withTestStore(kind, t, async (ts) => {
        let now = Date.UTC(2026, 11, 1);
        const trace = new MessageTrace(ts.store.db, new GroupCommit(ts.store.db), { retentionDays: 30, now: () => now });
        traceMessages(trace, 3, now, 'OLD');
        now += 20 * DAY;
        traceMessages(trace, 2, now, 'NEW');
        // A later event of an old message (a relay attempt weeks later) goes with its message.
        trace.events('OLD0000', [{ kind: 'relay-attempt', detail: { domain: 'b.test' } }]);
        now += 11 * DAY;
        assert.equal(await trace.purge(), 3);
        assert.deepEqual((await trace.list({})).items.map((m) => m.id), ['NEW0001', 'NEW0000']);
        const count = async (table: 'trace_events' | 'trace_addresses') =>
          Number((await ts.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('queue_id', 'like', 'OLD%').executeTakeFirstOrThrow()).n);
        assert.deepEqual([await count('trace_events'), await count('trace_addresses')], [0, 0]);
        assert.equal(await trace.purge(), 0, 'nothing more to remove');
        now += 30 * DAY;
        assert.equal(await trace.purge(), 2);
        assert.deepEqual((await trace.list({})).items, []);
      }));
  });
}

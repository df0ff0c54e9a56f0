import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, writeBlob, GroupCommit, type Store } from '../../../src/store/index.js';
import { Accounts, Mailboxes, createRelay, type SettledBatch } from '../../../src/service/index.js';
import { RelayLeaseLost, RelayQueue } from '../../../src/service/relay/index.js';
import { SmtpListener, type SmtpBackend } from '../../../src/smtp/index.js';
import { Metrics, silentLogger } from '../../../src/core/index.js';
import { openTestStore, STORE_KINDS, testConfig, type TestStore } from '../../helpers/env.js';
import { collect } from '../../helpers/stream.js';

/** Queues one message (a real blob) for `recipients`, in a transaction of its own as a delivery would. */
async function queueMessage(store: Store, q: RelayQueue, queueId: string, recipients: string[], now = Date.now()): Promise<void> {
  const blob = await writeBlob(store.blobs, Buffer.from(`Return-Path: <alice@a.test>\r\nSubject: ${queueId}\r\n\r\nbody of ${queueId}\r\n`));
  await store.db.transaction().execute((trx) => q.enqueue(trx, { queueId, blob, mailFrom: 'alice@a.test', recipients, now }));
}

/** A peer that takes everything and remembers it: our own SMTP listener over a recording backend. */
async function startSink(ts: TestStore): Promise<{ port: number; got: Array<{ subject: string; rcpt: string[] }>; close(): Promise<void> }> {
  const got: Array<{ subject: string; rcpt: string[] }> = [];
  const backend: SmtpBackend = {
    checkSender: async () => undefined,
    checkRecipient: async () => undefined,
    deliver: async (env, _s, body) => {
      const chunks = await collect(body);
      got.push({ subject: /^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString())![1]!.trim(), rcpt: env.rcptTo });
      return 'Ok: taken';
    },
  };
  const l = new SmtpListener({ name: 'sink', host: '127.0.0.1', port: 0, tlsMode: 'none', auth: false, requireAuth: false, hostname: 'sink.test', limits: ts.config.service.smtp, backend, logger: silentLogger(), metrics: new Metrics() });
  const a = await l.listen();
  return { port: a.port, got, close: () => l.close(500) };
}

for (const kind of STORE_KINDS) {
  describe(`relay queue leases on ${kind}`, () => {
    test('batches are (message, domain); concurrent leases never share a row; an expired lease is taken over and the old holder cannot settle', async (t) => {
      const ts = await openTestStore(kind);
      if (!ts) return t.skip('PostgreSQL explicitly skipped');
      try {
        const q = new RelayQueue(ts.store.db, ts.store.dialect, 1000);
        const now = Date.now();
        for (let i = 0; i < 20; i++) await queueMessage(ts.store, q, `Q${i}`, ['x1@b.test', 'x2@b.test', 'y@c.test'], now);
        const concurrent = (await Promise.all(Array.from({ length: 8 }, () => q.lease(5, now)))).flat();
        const leased = [...concurrent, ...(await q.lease(100, now))];
        assert.equal(leased.length, 40, 'every (message, domain) pair was leased, once');
        const ids = leased.flatMap((b) => b.rows.map((r) => r.id));
        assert.equal(ids.length, 60);
        assert.equal(new Set(ids).size, 60, 'no row was leased twice');
        for (const b of leased) {
          assert.deepEqual(b.rows.map((r) => r.recipient), b.domain === 'b.test' ? ['x1@b.test', 'x2@b.test'] : ['y@c.test'], 'one batch: all recipients of one message at one domain');
          assert.ok(b.rows.every((r) => r.attempts === 1));
        }
        assert.deepEqual(await q.lease(100, now + 999), [], 'held while the leases last');

        // The node holding them died: 1000 ms later any node leases them, as a second attempt.
        const again = await q.lease(100, now + 1001);
        assert.equal(again.length, 40);
        assert.ok(again.every((b) => b.rows.every((r) => r.attempts === 2)));
        const stale = leased.find((b) => b.queueId === 'Q0' && b.domain === 'b.test')!;
        const fresh = again.find((b) => b.queueId === 'Q0' && b.domain === 'b.test')!;
        await assert.rejects(ts.store.db.transaction().execute((trx) => q.settle(trx, stale, { remove: stale.rows.map((r) => r.id), retry: [] })), RelayLeaseLost);
        assert.equal((await ts.store.db.selectFrom('relay_queue').select('id').where('queue_id', '=', 'Q0').execute()).length, 3, 'the old holder changed nothing');

        await q.settle(ts.store.db, fresh, { remove: [fresh.rows[0]!.id], retry: [{ id: fresh.rows[1]!.id, nextAttemptAt: now + 60_000, error: '4.2.0 smtp; 452 4.2.0 later', warned: false }] });
        const rest = await ts.store.db.selectFrom('relay_queue').selectAll().where('queue_id', '=', 'Q0').where('domain', '=', 'b.test').execute();
        assert.deepEqual(rest.map((r) => [r.recipient, Number(r.next_attempt_at), r.lease_token, r.last_error]), [['x2@b.test', now + 60_000, null, '4.2.0 smtp; 452 4.2.0 later']]);
        assert.ok(!(await q.lease(100, now + 59_999)).some((b) => b.queueId === 'Q0' && b.domain === 'b.test'), 'a retried row waits for its time');
        assert.ok((await q.lease(100, now + 60_000)).some((b) => b.queueId === 'Q0' && b.domain === 'b.test'));
      } finally {
        await ts.close();
      }
    });

    test('two nodes on one queue: every message is sent exactly once', async (t) => {
      const ts = await openTestStore(kind);
      if (!ts) return t.skip('PostgreSQL explicitly skipped');
      const sink = await startSink(ts);
      const config = testConfig(ts.dir, {
        database: { url: ts.config.database.url },
        service: { relay: { worker: { concurrency: 3, pollIntervalMs: 20 }, routes: { 'b.test': { host: '127.0.0.1', port: sink.port, tls: 'none' } } } },
      });
      // A second node: its own connections to the same database and blob directory.
      const other = await openStore(config);
      const nodes: Array<ReturnType<typeof createRelay>> = [];
      try {
        const n = 24;
        const q = new RelayQueue(ts.store.db, ts.store.dialect, config.service.relay.worker.leaseMs);
        for (let i = 0; i < n; i++) await queueMessage(ts.store, q, `M${i}`, [`a${i}@b.test`, `b${i}@b.test`]);
        const settled: SettledBatch[] = [];
        let done!: () => void;
        const allDone = new Promise<void>((r) => (done = r));
        for (const store of [ts.store, other]) {
          const commits = new GroupCommit(store.db);
          const relay = createRelay(config.service.relay, {
            store,
            accounts: new Accounts(store.db, store.blobs),
            mailboxes: new Mailboxes(store.db, store.blobs, commits),
            commits,
            logger: silentLogger(),
            hostname: 'mx.a.test',
            ca: [],
            routeCa: {},
          });
          relay.worker.onSettled = (s) => {
            settled.push(s);
            if (settled.length === n) done();
          };
          nodes.push(relay);
        }
        for (const r of nodes) r.worker.start();
        await allDone;
        assert.equal(sink.got.length, n, 'as many SMTP transactions as messages');
        assert.deepEqual(sink.got.map((g) => g.subject).sort(), Array.from({ length: n }, (_, i) => `M${i}`).sort(), 'each message once');
        for (const g of sink.got) assert.deepEqual(g.rcpt.sort(), [`a${g.subject.slice(1)}@b.test`, `b${g.subject.slice(1)}@b.test`], 'both recipients in one transaction');
        assert.ok(settled.every((s) => s.held && s.delivered.length === 2));
        assert.equal((await ts.store.db.selectFrom('relay_queue').select('id').execute()).length, 0);
        // Nothing refers to the blobs any more: each went with its message's last row.
        const left = (await collect(ts.store.blobs.list())).map((b) => b.hash);
        assert.deepEqual(left, []);
      } finally {
        for (const r of nodes) await r.worker.close(1000);
        await sink.close();
        await other.close();
        await ts.close();
      }
    });
  });
}

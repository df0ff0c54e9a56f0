import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { openTestStore, STORE_KINDS } from '../helpers/env.js';
import { Accounts } from '../../src/service/index.js';
import { MailinAdmin, JobQueue, backoffMs } from '../../src/mailin/index.js';

const SECRET = 'a-long-shared-secret-0123456789';

test('the backoff schedule repeats its last step', () => {
  const p = { scheduleMs: [60_000, 300_000, 900_000], maxAttempts: 6 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(p, n)), [60_000, 300_000, 900_000, 900_000, 900_000]);
});

for (const kind of STORE_KINDS) {
  describe(`mail-in job queue over ${kind}`, () => {
    test('the queue: concurrent claimers never get the same job; an expired lease is claimed again; a lost lease cannot settle', async (t) => {
      const ts = await openTestStore(kind);
      if (!ts) return t.skip('PostgreSQL explicitly skipped');
      try {
        const { db, dbRow, agents } = await queueFixture(ts, 1);
        const agent = agents[0]!;
        const now = Date.now();
        for (let i = 0; i < 40; i++) {
          const d = await db
            .insertInto('mailin_documents')
            .values(doc(dbRow.id, `u${i}`, now))
            .returning('id')
            .executeTakeFirstOrThrow();
          await db
            .insertInto('mailin_jobs')
            .values({ agent_id: agent.id as number, document_id: d.id, state: 'queued', attempts: 0, next_run_at: now, created_at: now, updated_at: now })
            .execute();
        }
        const q = new JobQueue(db, ts.store.dialect, { scheduleMs: [1000], maxAttempts: 3 }, 0);
        const batches = await Promise.all(Array.from({ length: 8 }, () => q.claim(10, now)));
        const ids = batches.flat().map((j) => j.id);
        assert.equal(ids.length, 40, 'every job was claimed');
        assert.equal(new Set(ids).size, 40, 'no job was claimed twice');
        assert.deepEqual(await q.claim(10, now), [], 'leases are held');
        // 1000 ms agent timeout + 0 margin: after that the leases have expired.
        const again = await q.claim(100, now + 1001);
        assert.equal(again.length, 40);
        assert.ok(again.every((j) => j.attempt === 2));
        const first = batches.flat()[0]!;
        const stale = await q.settle(db, first, { ok: true }, now + 1002);
        assert.equal(stale.held, false, 'the first holder lost its lease');
        const fresh = again.find((j) => j.id === first.id)!;
        assert.equal((await q.settle(db, fresh, { ok: false, permanent: false, error: 'x' }, now + 1002)).state, 'queued');
      } finally {
        await ts.close();
      }
    });

    test('the queue: jobs leased in the enqueuing transaction are held for that node until their lease expires; the rest are claimable at once', async (t) => {
      const ts = await openTestStore(kind);
      if (!ts) return t.skip('PostgreSQL explicitly skipped');
      try {
        const { db, dbRow, agents } = await queueFixture(ts, 3);
        const now = Date.now();
        const q = new JobQueue(db, ts.store.dialect, { scheduleMs: [1000], maxAttempts: 3 }, 0);
        const jobs = agents.map((a) => ({ agentId: a.id as number, documentId: 0, timeoutMs: 1000 }));
        // A delivery that does not commit leaves nothing behind, leased or queued.
        await assert.rejects(
          db.transaction().execute(async (trx) => {
            const d = await trx.insertInto('mailin_documents').values(doc(dbRow.id, 'rolled-back', now)).returning('id').executeTakeFirstOrThrow();
            await q.enqueue(trx, jobs.map((j) => ({ ...j, documentId: d.id })), 2, now);
            throw new Error('delivery failed');
          }),
          /delivery failed/,
        );
        assert.equal((await db.selectFrom('mailin_jobs').select('id').execute()).length, 0);
        const leased = await db.transaction().execute(async (trx) => {
          const d = await trx.insertInto('mailin_documents').values(doc(dbRow.id, 'u1', now)).returning('id').executeTakeFirstOrThrow();
          return q.enqueue(trx, jobs.map((j) => ({ ...j, documentId: d.id })), 2, now);
        });
        assert.equal(leased.length, 2);
        assert.ok(leased.every((j) => j.attempt === 1 && j.leaseToken.length > 0));
        const other = await q.claim(10, now);
        assert.equal(other.length, 1, 'only the job not leased locally is claimable by another node');
        assert.ok(!leased.some((j) => j.id === other[0]!.id));
        // The node died holding its two leases: after timeout + margin any node claims them.
        assert.deepEqual(await q.claim(10, now + 999), []);
        const reclaimed = await q.claim(10, now + 1001);
        assert.deepEqual(reclaimed.map((j) => j.id).sort(), [...leased.map((j) => j.id), other[0]!.id].sort());
        assert.equal((await q.settle(db, leased[0]!, { ok: true }, now + 1002)).held, false, 'the dead node lost its lease');
      } finally {
        await ts.close();
      }
    });
  });
}

function doc(dbId: number, uid: string, now: number) {
  return { uid, db_id: dbId, blob_hash: '0'.repeat(64), size: 1, received_at: now, queue_id: 'Q', mail_from: '', rcpt_to: '[]', folder: '', from_addr: '', to_addrs: '[]', subject: '', date: null, message_id: '', kim: '{}', text_body: '', attachments: '[]' };
}

/** A mail-in database in@example.test with `n` after-delivery agents (1 s time limit) over a test store. */
async function queueFixture(ts: NonNullable<Awaited<ReturnType<typeof openTestStore>>>, n: number) {
  const accounts = new Accounts(ts.store.db, ts.store.blobs);
  await accounts.addDomain('example.test');
  const m = new MailinAdmin(ts.store.db, ts.store.blobs, ts.store.secrets, accounts, ts.config.mailin);
  await m.addDatabase({ address: 'in@example.test', name: 'x' });
  const agents = [];
  for (let i = 0; i < n; i++) agents.push(await m.addAgent('in@example.test', { trigger: 'after-delivery', webhook: `https://hooks.example.test/${i}`, secret: SECRET, timeoutMs: 1000 }));
  const db = ts.store.db;
  const dbRow = await db.selectFrom('mailin_dbs').select('id').executeTakeFirstOrThrow();
  return { db, dbRow, agents };
}

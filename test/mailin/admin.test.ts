import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTestStore, STORE_KINDS } from '../helpers/env.js';
import { postamt } from '../helpers/process.js';
import { Accounts } from '../../src/service/index.js';
import { MailinAdmin, JobQueue, applyHeaderChanges, checkHeaderChanges, HeaderEditError, sign, verify, verdictFromJson, backoffMs } from '../../src/mailin/index.js';

const SECRET = 'a-long-shared-secret-0123456789';

describe('mail-in pure parts', () => {
  test('header changes replace, add and remove fields and leave the body alone', () => {
    const raw = Buffer.from('Return-Path: <a@b>\r\nSubject: old\r\nX-Tag: 1\r\n\tcontinued\r\nTo: x@y\r\n\r\nbody\r\nSubject: not a header\r\n');
    const out = applyHeaderChanges(raw, checkHeaderChanges({ subject: 'new', 'x-tag': null, 'X-Added': 'yes' })).toString();
    assert.equal(out, 'Return-Path: <a@b>\r\nTo: x@y\r\nsubject: new\r\nX-Added: yes\r\n\r\nbody\r\nSubject: not a header\r\n');
    // No body: the new fields end the header block (no empty line before them), folding kept.
    assert.equal(applyHeaderChanges(Buffer.from('Subject: a\r\n b\r\nX-Tag: 1'), { 'x-tag': null, 'X-New': 'v' }).toString(), 'Subject: a\r\n b\r\nX-New: v\r\n');
    assert.throws(() => applyHeaderChanges(Buffer.from('Subject: a\r\nno field here\r\n\r\nbody'), { subject: 'b' }), HeaderEditError);
    assert.throws(() => checkHeaderChanges({ Received: 'forged' }), /may not be changed/);
    assert.throws(() => checkHeaderChanges({ 'X-A': 'a\r\nBcc: victim@x' }), /line break/);
    assert.throws(() => checkHeaderChanges({ 'Bad Name': 'x' }), /not a header field name/);
    assert.throws(() => checkHeaderChanges(['x']), /must be an object/);
  });

  test('signatures: v1 HMAC over timestamp.body, checked in constant time with a replay window', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = sign(SECRET, ts, '{"a":1}');
    assert.match(sig, /^v1=[0-9a-f]{64}$/);
    assert.ok(verify(SECRET, ts, '{"a":1}', sig));
    assert.ok(!verify(SECRET, ts, '{"a":2}', sig));
    assert.ok(!verify('another-secret-0123', ts, '{"a":1}', sig));
    assert.ok(!verify(SECRET, String(Number(ts) - 3600), '{"a":1}', sign(SECRET, String(Number(ts) - 3600), '{"a":1}')), 'old timestamps are refused');
  });

  test('webhook answers map to verdicts; malformed ones are refused', () => {
    assert.deepEqual(verdictFromJson(undefined), { action: 'accept' });
    assert.deepEqual(verdictFromJson({ action: 'drop' }), { action: 'drop' });
    assert.deepEqual(verdictFromJson({ action: 'file', folder: 'x' }), { action: 'accept', folder: 'x' });
    assert.deepEqual(verdictFromJson({ action: 'reject', text: 'no', code: 250 }), { action: 'reject', code: 550, enhanced: '5.7.1', text: 'no' });
    assert.deepEqual(verdictFromJson({ action: 'reject', text: 'later', code: 451, enhanced: '5.1.1' }), { action: 'reject', code: 451, enhanced: '4.7.1', text: 'later' });
    assert.throws(() => verdictFromJson({ action: 'explode' }), /unknown action/);
    assert.throws(() => verdictFromJson({ action: 'file' }), /needs a folder/);
    assert.throws(() => verdictFromJson([1]), /JSON object/);
    assert.throws(() => verdictFromJson({ folder: 'a\nb' }), /printable/);
  });

  test('the backoff schedule repeats its last step', () => {
    const p = { scheduleMs: [60_000, 300_000, 900_000], maxAttempts: 6 };
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(p, n)), [60_000, 300_000, 900_000, 900_000, 900_000]);
  });
});

for (const kind of STORE_KINDS) {
  describe(`mail-in administration over ${kind}`, () => {
    test('bad databases and agents are refused with a clear message', async (t) => {
      const ts = await openTestStore(kind, { mailin: { webhook: { allowHosts: ['127.0.0.1', 'hooks.example.test'] } } });
      if (!ts) return t.skip('PostgreSQL explicitly skipped');
      try {
        const accounts = new Accounts(ts.store.db, ts.store.blobs);
        await accounts.addDomain('example.test');
        await accounts.add({ address: 'anna@example.test', password: 'correct horse battery' });
        const m = new MailinAdmin(ts.store.db, ts.store.blobs, accounts, ts.config.mailin);
        await assert.rejects(m.addDatabase({ address: 'in@elsewhere.test', name: 'x' }), /not a local domain/);
        await assert.rejects(m.addDatabase({ address: 'anna@example.test', name: 'x' }), /is an account's address/);
        await assert.rejects(m.addDatabase({ address: 'not an address', name: 'x' }), /not a valid mail address/);
        await assert.rejects(m.addDatabase({ address: 'in@example.test', name: '' }), /needs --name/);
        await m.addDatabase({ address: 'In@Example.test', name: 'Inbox' });
        await assert.rejects(m.addDatabase({ address: 'in@example.test', name: 'again' }), /exists already/);

        const ok = { trigger: 'before-delivery', webhook: 'http://127.0.0.1:9/hook', secret: SECRET };
        await assert.rejects(m.addAgent('nobody@example.test', ok), /mail-in database nobody@example\.test does not exist/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, trigger: 'sometimes' }), /--trigger must be/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, webhook: 'ftp://127.0.0.1/x' }), /only http:\/\/ and https:\/\//);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, webhook: 'https://evil.test/x' }), /not in mailin\.webhook\.allowHosts/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, webhook: 'http://user:pw@127.0.0.1/x' }), /credentials in the URL/);
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', webhook: 'http://127.0.0.1/x' }), /needs --secret/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, secret: 'short' }), /at least 16 characters/);
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery' }), /exactly one of --webhook/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, script: '/x.mjs' }), /exactly one of --webhook/);
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', script: join(ts.dir, 'missing.mjs') }), /no such file/);
        mkdirSync(join(ts.dir, 'dir.mjs'));
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', script: join(ts.dir, 'dir.mjs') }), /no such file/);
        writeFileSync(join(ts.dir, 'agent.py'), 'print(1)');
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', script: join(ts.dir, 'agent.py') }), /expected a JavaScript module/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, timeoutMs: 10 }), /--timeout-ms must be/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, trigger: 'after-delivery', onFailure: 'accept' }), /applies to before-delivery/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, onFailure: 'shrug' }), /tempfail or accept/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, secret: 12345678901234567 as never }), /secret must be a string/);

        await m.addAgent('in@example.test', ok);
        await assert.rejects(m.addAgent('in@example.test', ok), /has a before-delivery agent already .* at most one/);
        await m.addAgent('in@example.test', { ...ok, trigger: 'after-delivery' });
        await m.addAgent('in@example.test', { ...ok, trigger: 'after-delivery' });
        assert.equal((await m.listAgents('in@example.test')).length, 3);
        assert.ok((await m.listAgents()).every((a) => a.secret === undefined));
        await assert.rejects(m.documents('in@example.test', { since: 'yesterday' }), /not a time/);
        await assert.rejects(m.documents('in@example.test', { after: 'x' }), /previous page/);
        await assert.rejects(m.jobs({ state: 'sleeping' }), /state must be/);
        await assert.rejects(m.removeAgent(999), /does not exist/);
        await m.removeDatabase('in@example.test');
        assert.equal((await m.listAgents()).length, 0);
      } finally {
        await ts.close();
      }
    });

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

describe('postamt mailin (CLI)', () => {
  test('add, agent add, list; bad configuration refused with exit code 2 and a clear message; --help is complete', async () => {
    const ts = (await openTestStore('sqlite'))!;
    const cfg = join(ts.dir, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${ts.dir}\nlog:\n  level: silent\n`);
    /** The real CLI; it must succeed (the failures below are run with `fails`). */
    const cli = (...args: string[]) => postamt(args, { config: cfg, check: true });
    const fails = (...args: string[]) => postamt(args, { config: cfg });
    try {
      await cli('domain', 'add', 'example.test');
      assert.match((await cli('mailin', 'add', 'approvals@example.test', '--name', 'OA approvals')).stdout, /added mail-in database approvals@example\.test/);
      const a = await cli('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'before-delivery', '--webhook', 'http://127.0.0.1:9/h', '--secret', SECRET, '--timeout-ms', '5000');
      assert.match(a.stdout, /added before-delivery webhook agent #1/);
      const second = await fails('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'before-delivery', '--webhook', 'http://127.0.0.1:9/h', '--secret', SECRET);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /already .* at most one/);
      const noSecret = await fails('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'after-delivery', '--webhook', 'http://127.0.0.1:9/h');
      assert.equal(noSecret.code, 2);
      assert.match(noSecret.stderr, /^postamt: a webhook agent needs --secret/);
      const list = await cli('mailin', 'agent', 'list', '--json');
      assert.equal(JSON.parse(list.stdout)[0].url, 'http://127.0.0.1:9/h');
      assert.ok(!list.stdout.includes(SECRET), 'secrets are never printed');
      assert.match((await cli('mailin', 'jobs', '--dead')).stdout, /^$/);
      assert.match((await cli('mailin', 'documents', 'approvals@example.test')).stdout, /^$/);
      const help = (await cli('mailin', '--help')).stdout;
      for (const c of ['add', 'list', 'rm', 'documents', 'agent', 'jobs', 'retry', 'runs']) assert.match(help, new RegExp(`\\n  ${c}\\b`));
      const agentHelp = (await cli('mailin', 'agent', 'add', '--help')).stdout;
      for (const o of ['--trigger', '--webhook', '--secret', '--script', '--timeout-ms', '--on-failure', '--include-raw']) assert.ok(agentHelp.includes(o), o);
      assert.match((await cli('mailin', 'rm', 'approvals@example.test')).stdout, /removed mail-in database/);
    } finally {
      await ts.close();
    }
  });
});

function doc(dbId: number, uid: string, now: number) {
  return { uid, db_id: dbId, blob_hash: '0'.repeat(64), size: 1, received_at: now, queue_id: 'Q', mail_from: '', rcpt_to: '[]', folder: '', from_addr: '', to_addrs: '[]', subject: '', date: null, message_id: '', kim: '{}', text_body: '', attachments: '[]' };
}

/** A mail-in database in@example.test with `n` after-delivery agents (1 s time limit) over a test store. */
async function queueFixture(ts: NonNullable<Awaited<ReturnType<typeof openTestStore>>>, n: number) {
  const accounts = new Accounts(ts.store.db, ts.store.blobs);
  await accounts.addDomain('example.test');
  const m = new MailinAdmin(ts.store.db, ts.store.blobs, accounts, ts.config.mailin);
  await m.addDatabase({ address: 'in@example.test', name: 'x' });
  const agents = [];
  for (let i = 0; i < n; i++) agents.push(await m.addAgent('in@example.test', { trigger: 'after-delivery', webhook: `http://127.0.0.1:9/${i}`, secret: SECRET, timeoutMs: 1000 }));
  const db = ts.store.db;
  const dbRow = await db.selectFrom('mailin_dbs').select('id').executeTakeFirstOrThrow();
  return { db, dbRow, agents };
}

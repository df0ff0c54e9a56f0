import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import { tempDir, testConfig, freshPostgres, STORE_KINDS, type StoreKind } from '../helpers/env.js';
import { scriptFolder, startReceiver, signatureValid, type Receiver } from '../helpers/mailin.js';
import { until } from '../helpers/wait.js';
import { silentLogger } from '../../src/core/index.js';
import { startService, type RunningService } from '../../src/roles/index.js';
import type { Config } from '../../src/config/index.js';
import { collectGarbageBlobs } from '../../src/store/index.js';
import { createSelfSignedTls } from '../../src/crypto/selfsigned.js';
import { createServer as createHttpsServer } from 'node:https';
import { listenOnLoopback } from '../helpers/net.js';

const SECRET = 'a-long-shared-secret-0123456789';
const DB = 'approvals@example.test';

interface Harness {
  svc: RunningService;
  config: Config;
  dir: string;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The real service role over a fresh store of the given kind, with domain example.test and one account. */
async function startHarness(kind: StoreKind, mailin: Record<string, unknown> = {}): Promise<Harness | null> {
  const dir = tempDir();
  let url = 'sqlite:postamt.db';
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'postgres') {
    const pg = await freshPostgres();
    if (!pg) return null;
    url = pg.url;
    drop = pg.drop;
  }
  const config = testConfig(dir.path, { database: { url }, mailin: { worker: { pollIntervalMs: 50 }, webhook: { allowLoopbackTargets: true }, ...mailin } });
  const h: Harness = {
    svc: await startService(config, silentLogger()),
    config,
    dir: dir.path,
    restart: async () => {
      await h.svc.close();
      h.svc = await startService(config, silentLogger());
    },
    close: async () => {
      await h.svc.close();
      await drop?.();
      dir.cleanup();
    },
  };
  await h.svc.accounts.addDomain('example.test');
  await h.svc.accounts.add({ address: 'anna@example.test', password: 'correct horse battery' });
  return h;
}

function send(h: Harness, mail: Partial<Mail.Options> = {}): Promise<{ response: string }> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: h.svc.endpoints['smtp-mx']!.port, secure: false, tls: { rejectUnauthorized: false } });
  return transport.sendMail({
    from: 'oa@office.test',
    to: DB,
    subject: 'Approval 4711 completed',
    text: 'Request 4711 was approved by Dr. Muster.\n',
    headers: { 'X-KIM-Dienstkennung': 'KIM-Mail;Default;V1.0' },
    attachments: [{ filename: 'transfer.csv', content: 'id;state\n4711;approved\n' }],
    ...mail,
  }) as Promise<{ response: string }>;
}

async function sendError(h: Harness, mail: Partial<Mail.Options> = {}): Promise<string> {
  try {
    await send(h, mail);
  } catch (err) {
    return String((err as { response?: string }).response);
  }
  throw new Error('the message was accepted');
}

async function api(h: Harness, path: string, init: RequestInit = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${h.svc.endpoints.http!.port}/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${h.svc.adminToken}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function documentCount(h: Harness): Promise<number> {
  const r = await h.svc.store.db.selectFrom('mailin_documents').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

async function runs(h: Harness): Promise<any[]> {
  return (await h.svc.mailin.admin.runs({ limit: 100 })).items;
}

/**
 * The seed's scenario (002_*.txt): the approval mail arrives, the webhook is called before the
 * mail is committed, its signature verifies, and the third party's answer edits and files it.
 */
async function seedScenario(t: { skip(msg: string): void }, kind: StoreKind, mailin: Record<string, unknown> = {}): Promise<void> {
  const h = await startHarness(kind, mailin);
  if (!h) return t.skip('PostgreSQL explicitly skipped');
  let countAtCall = -1;
  const rx = await startReceiver(async () => {
    countAtCall = await documentCount(h);
    return { status: 200, body: { action: 'file', folder: 'approved', headers: { 'X-Approval-Ticket': 'T-4711' } } };
  });
  try {
    const created = await api(h, '/mailin', { method: 'POST', body: JSON.stringify({ address: DB, name: 'OA approvals', description: 'approvals from the office system' }) });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const agent = await api(h, `/mailin/${DB}/agents`, { method: 'POST', body: JSON.stringify({ trigger: 'before-delivery', webhook: rx.url, secret: SECRET, timeoutMs: 5000 }) });
    assert.equal(agent.status, 201, JSON.stringify(agent.json));
    assert.equal(agent.json.secret, undefined, 'the secret is never shown');

    const info = await send(h);
    assert.match(info.response, /^250 2\.6\.0 /);
    assert.equal(rx.calls.length, 1);
    assert.equal(countAtCall, 0, 'the webhook ran before the document was committed');
    const call = rx.calls[0]!;
    assert.ok(signatureValid(SECRET, call), 'the signature verifies with the shared secret');
    assert.ok(!signatureValid('another-secret-0123456789', call));
    assert.equal(call.headers['x-postamt-event'], 'before-delivery');
    const p = call.json as any;
    assert.equal(p.database, DB);
    assert.equal(p.subject, 'Approval 4711 completed');
    assert.equal(p.from, 'oa@office.test');
    assert.deepEqual(p.to, [DB]);
    assert.deepEqual(p.envelope.rcptTo, [DB]);
    assert.equal(p.envelope.mailFrom, 'oa@office.test');
    assert.equal(p.kim['X-KIM-Dienstkennung'], 'KIM-Mail;Default;V1.0');
    assert.match(p.text, /Request 4711 was approved/);
    assert.equal(p.attachments.length, 1);
    assert.equal(p.attachments[0].name, 'transfer.csv');
    assert.equal(Buffer.from(p.attachments[0].content, 'base64').toString(), 'id;state\n4711;approved\n');
    assert.match(p.attachments[0].sha256, /^[0-9a-f]{64}$/);
    assert.equal(p.raw, undefined, 'raw only when the agent asks for it');
    assert.equal(call.headers['idempotency-key'], `${p.id}.${agent.json.id}`);

    const docs = await api(h, `/mailin/${DB}/documents`);
    assert.equal(docs.status, 200);
    assert.equal(docs.json.items.length, 1);
    const d = docs.json.items[0];
    assert.equal(d.id, p.id, 'the id the agent saw is the document id');
    assert.equal(d.folder, 'approved');
    assert.equal(d.subject, 'Approval 4711 completed');
    assert.equal(d.kim['X-KIM-Dienstkennung'], 'KIM-Mail;Default;V1.0');
    assert.deepEqual(d.attachments.map((a: any) => [a.name, a.size]), [['transfer.csv', 23]]);
    const raw = await fetch(`http://127.0.0.1:${h.svc.endpoints.http!.port}/api/mailin/${DB}/documents/${d.id}/raw`, { headers: { authorization: `Bearer ${h.svc.adminToken}` } });
    const rawText = await raw.text();
    assert.match(rawText, /\r\nX-Approval-Ticket: T-4711\r\n/, 'the header the agent asked for is in the stored message');
    assert.match(rawText, /^Return-Path: <oa@office\.test>\r\nReceived: /);

    // Housekeeping must not take a document's blob for a leftover (grace 0: everything is old enough).
    await collectGarbageBlobs(h.svc.store.db, h.svc.store.blobs, 0);
    assert.match((await (await h.svc.mailin.admin.document(DB, d.id)).raw()).toString(), /X-Approval-Ticket: T-4711/);

    const history = await api(h, '/mailin/runs');
    assert.equal(history.json.items.length, 1);
    assert.equal(history.json.items[0].outcome, 'file');
    assert.equal(history.json.items[0].httpStatus, 200);
    assert.equal(history.json.items[0].filed, true);
  } finally {
    await rx.close();
    await h.close();
  }
}

for (const kind of STORE_KINDS) {
  describe(`mail-in databases and webhook agents over ${kind}`, () => {
    test('the seed: an approval mail calls the third party before it is committed; the signature verifies; the answer edits and files', (t) => seedScenario(t, kind));

    test('a 4xx answer rejects: its text reaches the SMTP client and nothing is filed', async (t) => {
      const h = await startHarness(kind);
      if (!h) return t.skip('PostgreSQL explicitly skipped');
      const rx = await startReceiver(() => ({ status: 422, body: 'Approval 4711 is unknown\r\n550 injected' }));
      try {
        await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
        await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: rx.url, secret: SECRET });
        const response = await sendError(h);
        assert.match(response, /^550 5\.7\.1 Approval 4711 is unknown 550 injected$/, 'one line, the agent cannot inject a reply');
        assert.equal(await documentCount(h), 0);
        // Also to an account in the same transaction: the whole message is refused (one DATA, one answer).
        const both = await sendError(h, { to: [DB, 'anna@example.test'] });
        assert.match(both, /^550 5\.7\.1 /);
        const acc = await h.svc.accounts.get('anna@example.test');
        assert.equal((await h.svc.mailboxes.list(acc.id)).length, 0);
        const r = await runs(h);
        assert.equal(r[0].outcome, 'reject');
        assert.equal(r[0].httpStatus, 422);
        assert.equal(r[0].filed, false);

        // A JSON answer may choose its own SMTP code within 4xx/5xx.
        rx.calls.length = 0;
        const rx2 = await startReceiver(() => ({ status: 403, body: { text: 'come back after approval', code: 450, enhanced: '4.7.1' } }));
        await h.svc.mailin.admin.removeAgent((await h.svc.mailin.admin.listAgents(DB))[0]!.id as number);
        await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: rx2.url, secret: SECRET });
        assert.match(await sendError(h), /^450 4\.7\.1 come back after approval$/);
        await rx2.close();
      } finally {
        await rx.close();
        await h.close();
      }
    });

    test('receiver down: before-delivery answers 451 4.3.0 (or accepts with on-failure accept); after-delivery retries across a restart until it succeeds, once', async (t) => {
      const h = await startHarness(kind, { retry: { scheduleMs: [100], maxAttempts: 6 } });
      if (!h) return t.skip('PostgreSQL explicitly skipped');
      // A receiver that is started and closed again: its port is known to refuse connections.
      const dead = await startReceiver(() => ({ status: 200 }));
      await dead.close();
      let rx: Receiver | undefined;
      try {
        await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
        const before = await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: dead.url, secret: SECRET, timeoutMs: 2000 });
        assert.match(await sendError(h), /^451 4\.3\.0 <approvals@example\.test>: mail-in agent unavailable, try again later$/);
        assert.equal(await documentCount(h), 0);
        assert.equal((await runs(h))[0].outcome, 'failed');

        await h.svc.mailin.admin.removeAgent(before.id as number);
        await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: dead.url, secret: SECRET, onFailure: 'accept' });
        assert.match((await send(h)).response, /^250 /);
        assert.equal(await documentCount(h), 1, 'on-failure accept files the message unseen');
        await h.svc.mailin.admin.removeAgent((await h.svc.mailin.admin.listAgents(DB))[0]!.id as number);

        // After delivery: the receiver fails twice (503), the service restarts in between, then it answers 200.
        let failuresLeft = 2;
        let releaseFirst!: () => void;
        const firstSeen = new Promise<void>((r) => (releaseFirst = r));
        rx = await startReceiver(() => {
          releaseFirst();
          return failuresLeft-- > 0 ? { status: 503, body: 'busy' } : { status: 200, body: {} };
        });
        await h.svc.mailin.admin.addAgent(DB, { trigger: 'after-delivery', webhook: rx.url, secret: SECRET, timeoutMs: 2000 });
        assert.match((await send(h, { subject: 'after delivery' })).response, /^250 /);
        await firstSeen;
        await h.restart();
        const job = await until('the job to succeed', async () => {
          const j = await h.svc.store.db.selectFrom('mailin_jobs').selectAll().executeTakeFirst();
          return j?.state === 'done' ? j : undefined;
        });
        assert.equal(job.attempts, 3);
        assert.equal(rx.calls.length, 3);
        assert.equal(new Set(rx.calls.map((c) => c.headers['idempotency-key'])).size, 1, 'every attempt carries the same idempotency key');
        assert.ok(rx.calls.every((c) => c.headers['x-postamt-event'] === 'after-delivery' && signatureValid(SECRET, c)));
        const afterRuns = (await runs(h)).filter((r) => r.trigger === 'after-delivery').reverse();
        assert.deepEqual(afterRuns.map((r) => [r.attempt, r.outcome, r.httpStatus]), [[1, 'failed', 503], [2, 'failed', 503], [3, 'accept', 200]]);

        // Restart once more and give the worker something else to do: the finished job stays finished.
        await h.restart();
        assert.match((await send(h, { subject: 'second' })).response, /^250 /);
        await rx.waitForCalls(4);
        await until('the second job to succeed', async () => {
          const rows = await h.svc.store.db.selectFrom('mailin_jobs').select('state').execute();
          return rows.length === 2 && rows.every((r) => r.state === 'done');
        });
        assert.equal(rx.calls.length, 4);
        assert.equal((rx.calls[3]!.json as any).subject, 'second');
      } finally {
        await rx?.close();
        await h.close();
      }
    });
  });
}

describe('mail-in: failures and limits (SQLite)', () => {
  test('with mailin.threads 0 (parsing and webhooks on the event loop) the seed scenario works the same', (t) => seedScenario(t, 'sqlite', { threads: 0 }));

  test('a before-delivery webhook that does not answer in time: 451 and a run recorded as timeout', async () => {
    const h = (await startHarness('sqlite'))!;
    const rx = await startReceiver(() => 'hang');
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: rx.url, secret: SECRET, timeoutMs: 300 });
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      const r = (await runs(h))[0];
      assert.equal(r.outcome, 'timeout');
      assert.match(r.error, /300 ms/);
    } finally {
      await rx.close();
      await h.close();
    }
  });

  test('header changes to a message whose header the codec cannot read: filed unchanged, the folder still applied', async () => {
    const h = (await startHarness('sqlite'))!;
    const rx = await startReceiver(() => ({ status: 200, body: { action: 'file', folder: 'approved', headers: { 'X-Approval-Ticket': 'T-4711' } } }));
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: rx.url, secret: SECRET });
      const raw = `From: oa@office.test\r\nTo: ${DB}\r\nSubject: garbage below\r\nthis line is no header field\r\n\r\nbody\r\n`;
      const info = await send(h, { raw, envelope: { from: 'oa@office.test', to: [DB] } });
      assert.match(info.response, /^250 /);
      assert.equal(rx.calls.length, 1);
      const docs = (await h.svc.mailin.admin.documents(DB)).items as Array<{ id: string; folder: string }>;
      assert.equal(docs.length, 1);
      assert.equal(docs[0]!.folder, 'approved');
      const stored = (await (await h.svc.mailin.admin.document(DB, docs[0]!.id)).raw()).toString();
      assert.doesNotMatch(stored, /X-Approval-Ticket/);
      assert.match(stored, /\r\nthis line is no header field\r\n\r\nbody\r\n$/);
    } finally {
      await rx.close();
      await h.close();
    }
  });

  test('redirects are not followed: a 302 is a failure', async () => {
    const h = (await startHarness('sqlite'))!;
    const target = await startReceiver(() => ({ status: 200 }));
    const rx = await startReceiver(() => ({ status: 302, headers: { location: target.url } }));
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: rx.url, secret: SECRET });
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      assert.equal(target.calls.length, 0);
      assert.match((await runs(h))[0].error, /redirects are not followed/);
    } finally {
      await rx.close();
      await target.close();
      await h.close();
    }
  });

  test('an answer over maxResponseBytes is a failure, not read on; calls reuse a kept-alive connection', async () => {
    const h = (await startHarness('sqlite'))!;
    const big = await startReceiver(() => ({ status: 200, body: 'x'.repeat(70 * 1024) }));
    const ok = await startReceiver(() => ({ status: 200 }));
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      const agent = await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: big.url, secret: SECRET });
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      assert.match((await runs(h))[0].error, /larger than 65536 bytes/);
      await h.svc.mailin.admin.removeAgent(agent.id as number);
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: ok.url, secret: SECRET });
      for (let i = 0; i < 3; i++) assert.match((await send(h)).response, /^250 /);
      assert.equal(ok.calls.length, 3);
      assert.equal(new Set(ok.calls.map((c) => c.remotePort)).size, 1, 'one connection for consecutive calls');
    } finally {
      await big.close();
      await ok.close();
      await h.close();
    }
  });

  test('TLS is verified: a receiver with a certificate nobody vouches for is never sent the document', async () => {
    const h = (await startHarness('sqlite'))!;
    const pem = await createSelfSignedTls(['127.0.0.1']);
    let received = 0;
    const server = createHttpsServer({ cert: pem.cert, key: pem.key }, (_req, res) => {
      received++;
      res.end('{}');
    });
    const port = await listenOnLoopback(server);
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      const url = `https://127.0.0.1:${port}/hook`;
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', webhook: url, secret: SECRET });
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      assert.match((await runs(h))[0].error, /SELF_SIGNED|self.signed|certificate/i);
      assert.equal(received, 0);
    } finally {
      server.closeAllConnections();
      server.close();
      await h.close();
    }
  });

  test('after-delivery: a 4xx gives up at once (dead), retry runs it again', async () => {
    const h = (await startHarness('sqlite', { retry: { scheduleMs: [50], maxAttempts: 3 } }))!;
    let answer = 410;
    const rx = await startReceiver(() => ({ status: answer, body: 'gone' }));
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'after-delivery', webhook: rx.url, secret: SECRET });
      await send(h);
      const dead = await until('the job to be dead', async () => (await h.svc.mailin.admin.jobs({ state: 'dead' }))[0]);
      assert.equal(dead.attempts, 1);
      assert.match(String(dead.lastError), /refused: gone/);
      answer = 200;
      await h.svc.mailin.admin.retryJob(dead.id as number);
      await assert.rejects(h.svc.mailin.admin.retryJob(dead.id as number + 1000), /does not exist/);
      await until('the retried job to succeed', async () => (await h.svc.mailin.admin.jobs({ state: 'done' }))[0]);
      assert.equal(rx.calls.length, 2);
      await assert.rejects(h.svc.mailin.admin.retryJob(dead.id as number), /succeeded already/);
    } finally {
      await rx.close();
      await h.close();
    }
  });

  test('after-delivery: a receiver that keeps failing is given up after maxAttempts (state dead)', async () => {
    const h = (await startHarness('sqlite', { retry: { scheduleMs: [20, 40], maxAttempts: 3 } }))!;
    const rx = await startReceiver(() => ({ status: 500 }));
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'after-delivery', webhook: rx.url, secret: SECRET });
      await send(h);
      const dead = await until('the job to be dead', async () => (await h.svc.mailin.admin.jobs({ state: 'dead' }))[0]);
      assert.equal(dead.attempts, 3);
      assert.equal(rx.calls.length, 3);
    } finally {
      await rx.close();
      await h.close();
    }
  });
});

describe('mail-in: script agents (SQLite)', () => {
  const folder = scriptFolder();
  after(() => folder.cleanup());
  const script = (_dir: string, name: string, code: string): string => folder.write(name, code);

  test('a script edits headers, files, and calls a third party through the service', async () => {
    const h = (await startHarness('sqlite'))!;
    const rx = await startReceiver((c) => ({ status: 200, body: { seen: (c.json as any).subject } }));
    try {
      const path = script(
        h.dir,
        'agent.mjs',
        `export default async function (doc, api) {
           const r = await api.http(${JSON.stringify(rx.url)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subject: doc.subject }) });
           api.setHeader('X-Third-Party', JSON.parse(r.text).seen);
           api.file('from-script');
         }`,
      );
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: path });
      assert.match((await send(h)).response, /^250 /);
      assert.equal(rx.calls.length, 1);
      const page = await h.svc.mailin.admin.documents(DB);
      assert.equal(page.items[0]!.folder, 'from-script');
      const raw = (await (await h.svc.mailin.admin.document(DB, String(page.items[0]!.id))).raw()).toString();
      assert.match(raw, /\r\nX-Third-Party: Approval 4711 completed\r\n/);
    } finally {
      await rx.close();
      await h.close();
    }
  });

  test('a script rejects with its own text; a script may drop silently', async () => {
    const h = (await startHarness('sqlite'))!;
    try {
      const reject = script(h.dir, 'reject.mjs', `export default (doc, api) => api.reject('No approval number in ' + doc.subject.length + ' chars', { code: 554, enhanced: '5.7.0' });`);
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      const a = await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: reject });
      assert.match(await sendError(h), /^554 5\.7\.0 No approval number in 23 chars$/);
      await h.svc.mailin.admin.removeAgent(a.id as number);
      const drop = script(h.dir, 'drop.mjs', `export default (doc, api) => api.drop();`);
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: drop });
      assert.match((await send(h)).response, /^250 /);
      assert.equal(await documentCount(h), 0);
      assert.equal((await runs(h))[0].outcome, 'drop');
    } finally {
      await h.close();
    }
  });

  test('a script over its time or memory limit is stopped, recorded, and the sender told to retry', async () => {
    const h = (await startHarness('sqlite', { script: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 } }))!;
    try {
      await h.svc.mailin.admin.addDatabase({ address: DB, name: 'OA' });
      const loop = script(h.dir, 'loop.mjs', `export default () => { for (;;) {} };`);
      const a = await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: loop, timeoutMs: 500 });
      const t0 = Date.now();
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      assert.ok(Date.now() - t0 < 5000, 'the loop was stopped at its limit');
      let r = (await runs(h))[0];
      assert.equal(r.outcome, 'timeout');
      assert.match(r.error, /longer than 500 ms/);
      await h.svc.mailin.admin.removeAgent(a.id as number);

      const hog = script(h.dir, 'hog.mjs', `export default () => { const keep = []; for (;;) keep.push(new Array(100000).fill({ x: Math.random() })); };`);
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: hog, timeoutMs: 20000 });
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      r = (await runs(h))[0];
      assert.equal(r.outcome, 'memory');
      assert.match(r.error, /memory limit/);
      await h.svc.mailin.admin.removeAgent((await h.svc.mailin.admin.listAgents(DB))[0]!.id as number);

      // Memory outside the JavaScript heap: 4 GiB of Buffers stop at mailin.script.maxMemoryMb, in the script's own process.
      const buffers = script(h.dir, 'buffers.mjs', `export default () => { const keep = []; for (let i = 0; i < 256; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); };`);
      await h.svc.mailin.admin.addAgent(DB, { trigger: 'before-delivery', script: buffers, timeoutMs: 20000 });
      const rss0 = process.memoryUsage().rss;
      assert.match(await sendError(h), /^451 4\.3\.0 /);
      assert.ok(process.memoryUsage().rss - rss0 < 64 * 1024 * 1024, 'the service did not grow');
      r = (await runs(h))[0];
      assert.equal(r.outcome, 'memory');
      assert.match(r.error, /over its memory limit \(256 MB above Node's start/);
      // The service is still there.
      assert.equal((await fetch(`http://127.0.0.1:${h.svc.endpoints.http!.port}/healthz`)).status, 200);
    } finally {
      await h.close();
    }
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { STORE_KINDS, deepMerge } from '../../helpers/env.js';
import { until } from '../../helpers/wait.js';
import { poplib, bodyOf } from '../../helpers/poplib.js';
import { RawSmtpClient, closedPort } from '../../helpers/net.js';
import { PASSWORD, mailbox, nextSettled, peerCertificate, routeTo, startProvider, submit, type Provider } from '../../helpers/relay.js';
import { encodeSaslPlain } from '../../../src/wire/index.js';

/** Runs `fn` with providers that are closed afterwards, whatever happens. */
async function withProviders(t: { skip(msg: string): void }, start: () => Promise<Array<Provider | null>>, fn: (...p: Provider[]) => Promise<void>): Promise<void> {
  const ps = await start();
  try {
    if (ps.some((p) => p === null)) return t.skip('PostgreSQL explicitly skipped');
    await fn(...(ps as Provider[]));
  } finally {
    for (const p of ps.reverse()) await p?.close();
  }
}

/** The one DSN in the account's mailbox (a message with null Return-Path and a delivery-status report). */
async function theDsn(p: Provider, address: string): Promise<string> {
  const dsns = (await mailbox(p, address)).filter((m) => /^Return-Path: <>\r\n/.test(m) && /report-type=delivery-status/.test(m));
  assert.equal(dsns.length, 1, `one DSN for ${address}`);
  return dsns[0]!;
}

for (const kind of STORE_KINDS) {
  describe(`relaying between two providers (provider A on ${kind})`, () => {
    test('a submission to a user of B and a local user of A: both get it, B over STARTTLS with A\'s Received header, fetched by POP3', (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          const a = b && (await startProvider(kind, 'a.test', ['alice@a.test', 'carol@a.test'], await routeTo(b, 'b.test')));
          return [b, a];
        },
        async (b, a) => {
          const settled = nextSettled(a!);
          const info = await submit(a!, 'alice@a.test', ['bob@b.test', 'carol@a.test'], { subject: 'Befund 4711' });
          assert.match(info.response, /^250 2\.6\.0 Ok: queued as [0-9A-Z]+$/);
          const queueId = /queued as (\w+)/.exec(info.response)![1]!;
          const s = await settled;
          assert.deepEqual([s.batch.queueId, s.batch.domain, s.delivered, s.failed, s.deferred, s.dsn], [queueId, 'b.test', ['bob@b.test'], [], [], null]);

          const pop = await poplib(b!.svc.endpoints.pop3s!.port, 'implicit', 'bob@b.test', PASSWORD, [['stat'], ['retr', 1], ['quit']]);
          assert.deepEqual((pop.results[0] as number[])[0], 1);
          const got = bodyOf(pop.results[1]).toString('utf8');
          assert.match(got, /^Return-Path: <alice@a\.test>\r\nReceived: from mx\.a\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.b\.test \(Postamt\) with ESMTPS \(TLSv1\.[23] /, 'B received it over STARTTLS from A');
          assert.match(got, new RegExp(`Received: from [^\\r]+\\r\\n\\tby mx\\.a\\.test \\(Postamt\\) with ESMTPSA [^\\r]* id ${queueId};`), "A's Received header travelled along");
          assert.equal(got.match(/^Return-Path:/gm)!.length, 1, "A's Return-Path was not passed on");
          assert.match(got, /Subject: Befund 4711\r\n/);

          const carol = await mailbox(a!, 'carol@a.test');
          assert.equal(carol.length, 1);
          assert.match(carol[0]!, new RegExp(`id ${queueId}`));
          assert.deepEqual(await a!.svc.relay.admin.list(), [], 'the queue is empty again');
          assert.equal(a!.svc.metrics.value('postamt_relay_recipients_total', { outcome: 'delivered' }), 1);
        },
      ));

    test('B down: the message stays queued with its attempts and the error; B started: delivered at the next attempt', (t) => {
      let port = 0;
      return withProviders(
        t,
        async () => {
          port = await closedPort();
          return [await startProvider(kind, 'a.test', ['alice@a.test'], await routeTo({ port }, 'b.test'))];
        },
        async (a) => {
          const first = nextSettled(a!);
          await submit(a!, 'alice@a.test', ['bob@b.test']);
          assert.deepEqual((await first).deferred, ['bob@b.test']);
          const [row] = await a!.svc.relay.admin.list();
          assert.equal(row!.attempts, 1);
          assert.equal(row!.state, 'waiting');
          assert.match(row!.lastError!, /^4\.4\.1 x-postamt; .*ECONNREFUSED/);
          assert.ok(row!.nextAttemptAt > Date.now() + 30_000, 'the next attempt waits for the first step of the schedule (1 min)');

          // The admin API shows the same, and makes the entry due now.
          const api = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${a!.svc.endpoints.http!.port}/api${path}`, { method, headers: { authorization: `Bearer ${a!.svc.adminToken}` } });
          const listed = (await (await api('/queue')).json()) as Array<{ id: number; recipient: string; attempts: number; lastError: string }>;
          assert.deepEqual(listed.map((e) => [e.id, e.recipient, e.attempts, e.lastError]), [[row!.id, 'bob@b.test', 1, row!.lastError]]);
          assert.equal((await api('/queue/999/retry', 'POST')).status, 404);

          const b = (await startProvider('sqlite', 'b.test', ['bob@b.test'], { service: { smtp: { mx: { port } } } }))!;
          try {
            const second = nextSettled(a!);
            const retried = await api(`/queue/${row!.id}/retry`, 'POST');
            assert.deepEqual([retried.status, await retried.json()], [202, { due: 1 }]);
            a!.svc.relay.worker.wake();
            assert.deepEqual((await second).delivered, ['bob@b.test']);
            assert.equal((await mailbox(b, 'bob@b.test')).length, 1);
            assert.deepEqual(await a!.svc.relay.admin.list(), []);
          } finally {
            await b.close();
          }
        },
      );
    });

    test('B refuses one recipient (550 5.1.1): a DSN at A names it with Status and Diagnostic-Code; the other recipient is delivered', (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          const a = b && (await startProvider(kind, 'a.test', ['alice@a.test'], await routeTo(b, 'b.test')));
          return [b, a];
        },
        async (b, a) => {
          const settled = nextSettled(a!);
          const info = await submit(a!, 'alice@a.test', ['bob@b.test', 'nobody@b.test'], { subject: 'Zwei Empfänger', text: 'Geheimer Befundtext\n' });
          const queueId = /queued as (\w+)/.exec(info.response)![1]!;
          const s = await settled;
          assert.deepEqual([s.delivered, s.failed, s.dsn], [['bob@b.test'], ['nobody@b.test'], 'failed']);
          assert.equal((await mailbox(b!, 'bob@b.test')).length, 1, 'the accepted recipient got it');

          const report = await theDsn(a!, 'alice@a.test');
          assert.match(report, /^Return-Path: <>\r\nFrom: "Mail Delivery System" <MAILER-DAEMON@mx\.a\.test>\r\nTo: <alice@a\.test>\r\n/);
          assert.match(report, /Auto-Submitted: auto-replied\r\n/);
          assert.match(report, /Content-Type: multipart\/report; report-type=delivery-status;/);
          assert.match(report, /Die Nachricht konnte an folgende Empfänger nicht zugestellt werden:\r\n\r\n  <nobody@b\.test>: 550 5\.1\.1 <nobody@b\.test>: no such user here\r\n/);
          assert.match(report, new RegExp(`Reporting-MTA: dns; mx\\.a\\.test\\r\\nX-Postamt-Queue-ID: ${queueId}\\r\\nArrival-Date: `));
          assert.match(
            report,
            /Final-Recipient: rfc822; nobody@b\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <nobody@b\.test>: no such user here\r\nLast-Attempt-Date: /,
          );
          assert.doesNotMatch(report, /Final-Recipient: rfc822; bob@b\.test/, 'only the failed recipient is reported');
          assert.match(report, /Content-Type: text\/rfc822-headers\r\n\r\nReceived: from [^\r]+\r\n\tby mx\.a\.test [\s\S]*Subject: =\?UTF-8\?Q\?Zwei_Empf=C3=A4nger\?=\r\n/);
          assert.doesNotMatch(report, /Geheimer Befundtext/, 'the body is never returned');
          assert.deepEqual(await a!.svc.relay.admin.list(), []);
        },
      ));

    test('given up after maxAgeMs: a DSN with Action failed and the last error; the blob goes with the last row', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['alice@a.test'], await routeTo({ port: await closedPort() }, 'b.test'))],
        async (a) => {
          const first = nextSettled(a!);
          await submit(a!, 'alice@a.test', ['bob@b.test']);
          const s1 = await first;
          assert.deepEqual(s1.deferred, ['bob@b.test']);
          // Six days in the queue (maxAgeMs is five): the next failure is the last.
          await a!.svc.store.db.updateTable('relay_queue').set({ created_at: Date.now() - 6 * 86_400_000 }).execute();
          const last = nextSettled(a!);
          await a!.svc.relay.admin.retry();
          a!.svc.relay.worker.wake();
          const s2 = await last;
          assert.deepEqual([s2.failed, s2.dsn], [['bob@b.test'], 'failed']);
          const report = await theDsn(a!, 'alice@a.test');
          assert.match(report, /Final-Recipient: rfc822; bob@b\.test\r\nAction: failed\r\nStatus: 4\.4\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: x-postamt; cannot connect to 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
          assert.deepEqual(await a!.svc.relay.admin.list(), []);
          await assert.rejects(a!.svc.store.blobs.get(s2.batch.blob.hash), 'nothing refers to the relayed blob any more: removed');
        },
      ));

    test('delayWarnMs: one "delayed" DSN once the mail waited that long, not again at later attempts', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['alice@a.test'], deepMerge(await routeTo({ port: await closedPort() }, 'b.test'), { service: { relay: { retry: { delayWarnMs: 3_600_000 } } } }))],
        async (a) => {
          const first = nextSettled(a!);
          await submit(a!, 'alice@a.test', ['bob@b.test']);
          assert.equal((await first).dsn, null, 'not waited an hour yet');
          const again = async () => {
            const s = nextSettled(a!);
            await a!.svc.relay.admin.retry();
            a!.svc.relay.worker.wake();
            return s;
          };
          await a!.svc.store.db.updateTable('relay_queue').set({ created_at: Date.now() - 2 * 3_600_000 }).execute();
          const warned = await again();
          assert.deepEqual([warned.deferred, warned.dsn], [['bob@b.test'], 'delayed']);
          const report = await theDsn(a!, 'alice@a.test');
          assert.match(report, /Subject: =\?utf-8\?Q\?Verz=C3=B6gert:\?= Delayed Mail/);
          assert.match(report, /Final-Recipient: rfc822; bob@b\.test\r\nAction: delayed\r\nStatus: 4\.4\.1\r\n[\s\S]*Will-Retry-Until: /);
          assert.equal((await again()).dsn, null, 'warned once only');
          assert.equal((await a!.svc.relay.admin.list()).length, 1, 'still queued');
        },
      ));

    test('a peer whose certificate is not trusted gets nothing, not even in clear: deferred with 4.7.5', (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          // The route names no CA and relay.ca is empty: only the system's roots are trusted.
          const a = b && (await startProvider(kind, 'a.test', ['alice@a.test'], await routeTo(b, 'b.test', { ca: [] })));
          return [b, a];
        },
        async (b, a) => {
          const settled = nextSettled(a!);
          await submit(a!, 'alice@a.test', ['bob@b.test']);
          assert.deepEqual((await settled).deferred, ['bob@b.test']);
          const [row] = await a!.svc.relay.admin.list();
          assert.match(row!.lastError!, /^4\.7\.5 x-postamt; TLS with 127\.0\.0\.1:\d+ failed: .*(self[- ]signed|certificate)/i);
          assert.equal((await mailbox(b!, 'bob@b.test')).length, 0);
        },
      ));

    test('MX lookup (an injected resolver): B found by its MX record; a null MX domain is returned at once (5.1.10)', (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          if (!b) return [b];
          const { cert } = await peerCertificate();
          const resolveMx = async (domain: string) => {
            if (domain === 'b.test') return [{ exchange: 'unreachable.invalid', priority: 20 }, { exchange: '127.0.0.1', priority: 10 }];
            if (domain === 'null.test') return [{ exchange: '', priority: 0 }];
            throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
          };
          const a = await startProvider(kind, 'a.test', ['alice@a.test'], { service: { relay: { mxPort: b.svc.endpoints['smtp-mx']!.port, mxTls: 'starttls', ca: [cert] } } }, { resolveMx });
          return [b, a];
        },
        async (b, a) => {
          const toB = nextSettled(a!, (s) => s.batch.domain === 'b.test');
          const toNull = nextSettled(a!, (s) => s.batch.domain === 'null.test');
          await submit(a!, 'alice@a.test', ['bob@b.test', 'someone@null.test']);
          assert.deepEqual((await toB).delivered, ['bob@b.test'], 'the preferred MX (10) was tried first and took it');
          assert.equal((await mailbox(b!, 'bob@b.test')).length, 1);
          const n = await toNull;
          assert.deepEqual([n.failed, n.dsn, n.results.get('someone@null.test')!.status], [['someone@null.test'], 'failed', '5.1.10']);
          assert.match(await theDsn(a!, 'alice@a.test'), /Final-Recipient: rfc822; someone@null\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r\nDiagnostic-Code: x-postamt; null\.test accepts no mail \(null MX, RFC 7505\)/);
        },
      ));

    test("the KOM-LE way, by the defaults: B's MX record, B's submission port with implicit TLS, no AUTH (acceptFromProviders)", (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          if (!b) return [b];
          const { cert } = await peerCertificate();
          const resolveMx = async (domain: string) => (domain === 'b.test' ? [{ exchange: '127.0.0.1', priority: 10 }] : []);
          // mxTls stays at its default (implicit); only the port is the test's.
          const a = await startProvider(kind, 'a.test', ['alice@a.test'], { service: { relay: { mxPort: b.svc.endpoints['smtp-submission']!.port, ca: [cert] } } }, { resolveMx });
          return [b, a];
        },
        async (b, a) => {
          const settled = nextSettled(a!);
          await submit(a!, 'alice@a.test', ['bob@b.test']);
          assert.deepEqual((await settled).delivered, ['bob@b.test']);
          const got = await mailbox(b!, 'bob@b.test');
          assert.equal(got.length, 1);
          assert.match(got[0]!, /^Return-Path: <alice@a\.test>\r\nReceived: from mx\.a\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.b\.test \(Postamt\) with ESMTPS /, 'taken on the submission port without AUTH (ESMTPS, not ESMTPSA)');
        },
      ));

    test('crash safety: a 250 means the rows are queued and the blob on disk; a new service on the same data dir delivers', (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          const a = b && (await startProvider(kind, 'a.test', ['alice@a.test'], deepMerge(await routeTo(b, 'b.test'), { service: { relay: { worker: { enabled: false } } } })));
          return [b, a];
        },
        async (b, a) => {
          const info = await submit(a!, 'alice@a.test', ['bob@b.test']);
          assert.match(info.response, /^250 /);
          const rows = await a!.svc.relay.admin.list();
          assert.deepEqual(rows.map((r) => [r.recipient, r.state, r.attempts]), [['bob@b.test', 'waiting', 0]]);
          const hash = (await a!.svc.store.db.selectFrom('relay_queue').select('blob_hash').executeTakeFirstOrThrow()).blob_hash;
          assert.ok(existsSync(join(a!.dir, 'blobs', hash.slice(0, 2), hash)), 'the message is durable in the blob store');
          assert.equal((await mailbox(b!, 'bob@b.test')).length, 0, 'nothing was sent without a worker');

          await a!.restart({ service: { relay: { worker: { enabled: true } } } });
          await until('the restarted service delivered the queued message', async () => (await mailbox(b!, 'bob@b.test')).length === 1);
          await until('the queue emptied', async () => (await a!.svc.relay.admin.list()).length === 0);
        },
      ));
  });
}

describe('sessions to peers', () => {
  const sessionsAt = (b: Provider) => b.svc.metrics.value('postamt_smtp_connections_total', { listener: 'smtp-mx' }) ?? 0;

  test('kept for the next transaction: three messages one after another go over one session; sessionIdleMs 0: one each; sessionMaxTransactions 2: two', (t) =>
    withProviders(
      t,
      async () => {
        const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
        const a = b && (await startProvider('sqlite', 'a.test', ['alice@a.test'], deepMerge(await routeTo(b, 'b.test'), { service: { relay: { sessionIdleMs: 60_000 } } })));
        const c = b && (await startProvider('sqlite', 'c.test', ['carol@c.test'], deepMerge(await routeTo(b, 'b.test'), { service: { relay: { sessionIdleMs: 0 } } })));
        const d = b && (await startProvider('sqlite', 'd.test', ['dave@d.test'], deepMerge(await routeTo(b, 'b.test'), { service: { relay: { sessionIdleMs: 60_000, sessionMaxTransactions: 2 } } })));
        return [b, a, c, d];
      },
      async (b, a, c, d) => {
        const expected = new Map([[a!, 1], [c!, 3], [d!, 2]]);
        for (const [p, from] of [[a!, 'alice@a.test'], [c!, 'carol@c.test'], [d!, 'dave@d.test']] as const) {
          const before = sessionsAt(b!);
          for (let i = 0; i < 3; i++) {
            const settled = nextSettled(p);
            await submit(p, from, ['bob@b.test']);
            assert.deepEqual((await settled).delivered, ['bob@b.test']);
          }
          assert.equal(sessionsAt(b!) - before, expected.get(p), `${from}: sessions B saw for three messages`);
        }
        assert.equal((await mailbox(b!, 'bob@b.test')).length, 9);
      },
    ));

  test('a kept session the peer has closed is not used: B restarted, the next message goes out at once over a new one', (t) => {
    let port = 0;
    return withProviders(
      t,
      async () => {
        port = await closedPort();
        const b = await startProvider('sqlite', 'b.test', ['bob@b.test'], { service: { smtp: { mx: { port } } } });
        const a = b && (await startProvider('sqlite', 'a.test', ['alice@a.test'], deepMerge(await routeTo({ port }, 'b.test'), { service: { relay: { sessionIdleMs: 60_000 } } })));
        return [b, a];
      },
      async (b, a) => {
        const first = nextSettled(a!);
        await submit(a!, 'alice@a.test', ['bob@b.test']);
        assert.deepEqual((await first).delivered, ['bob@b.test']);
        await b!.restart();
        const second = nextSettled(a!);
        await submit(a!, 'alice@a.test', ['bob@b.test']);
        const s = await second;
        assert.deepEqual([s.delivered, s.deferred], [['bob@b.test'], []], 'delivered at the first attempt, not deferred over the dead session');
        assert.equal((await mailbox(b!, 'bob@b.test')).length, 2);
      },
    );
  });
});

describe('what the relay does not do', () => {
  test('the MX listener never relays (554 5.7.1, no open relay); submission: the sender must still own the address', (t) =>
    withProviders(
      t,
      async () => [await startProvider('sqlite', 'a.test', ['alice@a.test'], await routeTo({ port: 1 }, 'b.test'))],
      async (a) => {
        const c = await RawSmtpClient.connect(a!.svc.endpoints['smtp-mx']!.port);
        await c.readReply();
        await c.cmd('EHLO mx.elsewhere.test');
        assert.equal((await c.cmd('MAIL FROM:<alice@a.test>')).code, 250);
        assert.match((await c.cmd('RCPT TO:<bob@b.test>')).text, /^554 5\.7\.1 <bob@b\.test>: relay access denied/);
        c.close();
        await assert.rejects(submit(a!, 'bob@b.test', ['bob@b.test'], { user: 'alice@a.test' }).catch((e: { response?: string }) => Promise.reject(new Error(e.response))), /553 5\.7\.1 .*not owned/);
        assert.deepEqual(await a!.svc.relay.admin.list(), []);
      },
    ));

  test('submission without AUTH is another provider: local recipients only (554 5.7.1 for others); acceptFromProviders false: 530 5.7.0', (t) =>
    withProviders(
      t,
      async () => [
        await startProvider('sqlite', 'a.test', ['alice@a.test'], { service: { relay: { worker: { enabled: false } } } }),
        await startProvider('sqlite', 'c.test', ['carol@c.test'], { service: { smtp: { submission: { acceptFromProviders: false } } } }),
      ],
      async (a, closed) => {
        const c = await RawSmtpClient.connect(a!.svc.endpoints['smtp-submission']!.port, { tls: true });
        await c.readReply();
        await c.cmd('EHLO mx.elsewhere.test');
        assert.equal((await c.cmd('MAIL FROM:<someone@elsewhere.test>')).code, 250, 'any sender, as on MX');
        assert.match((await c.cmd('RCPT TO:<bob@b.test>')).text, /^554 5\.7\.1 <bob@b\.test>: relay access denied/);
        assert.match((await c.cmd('RCPT TO:<nobody@a.test>')).text, /^550 5\.1\.1 /);
        assert.equal((await c.cmd('RCPT TO:<alice@a.test>')).code, 250);
        assert.equal((await c.cmd('DATA')).code, 354);
        assert.match((await c.cmd('Subject: from a provider\r\n\r\nx\r\n.')).text, /^250 2\.6\.0 /);
        c.close();
        assert.equal((await mailbox(a!, 'alice@a.test')).length, 1);
        assert.deepEqual(await a!.svc.relay.admin.list(), [], 'nothing was queued for relaying');

        const d = await RawSmtpClient.connect(closed!.svc.endpoints['smtp-submission']!.port, { tls: true });
        await d.readReply();
        await d.cmd('EHLO mx.elsewhere.test');
        assert.match((await d.cmd('MAIL FROM:<someone@elsewhere.test>')).text, /^530 5\.7\.0 /);
        d.close();
      },
    ));

  test('relaying switched off: 554 5.7.1 for other domains at submission too; relay.maxRecipients: 452 4.5.3 beyond it', (t) =>
    withProviders(
      t,
      async () => [
        await startProvider('sqlite', 'a.test', ['alice@a.test'], { service: { relay: { enabled: false } } }),
        await startProvider('sqlite', 'c.test', ['carol@c.test'], { service: { relay: { maxRecipients: 1, worker: { enabled: false } } } }),
      ],
      async (off, limited) => {
        await assert.rejects(submit(off!, 'alice@a.test', ['bob@b.test']), (e: { response?: string }) => /^554 5\.7\.1 <bob@b\.test>: relay access denied/.test(e.response ?? ''));
        const c = await RawSmtpClient.connect(limited!.svc.endpoints['smtp-submission']!.port, { tls: true });
        await c.readReply();
        await c.cmd('EHLO client.test');
        assert.equal((await c.cmd(`AUTH PLAIN ${encodeSaslPlain({ authcid: 'carol@c.test', password: PASSWORD })}`)).code, 235);
        assert.equal((await c.cmd('MAIL FROM:<carol@c.test>')).code, 250);
        assert.equal((await c.cmd('RCPT TO:<bob@b.test>')).code, 250);
        // A local recipient does not count against the limit; a second one elsewhere does.
        assert.equal((await c.cmd('RCPT TO:<carol@c.test>')).code, 250);
        assert.match((await c.cmd('RCPT TO:<dave@d.test>')).text, /^452 4\.5\.3 Too many recipients in other domains: at most 1 per message/);
        assert.equal((await c.cmd('DATA')).code, 354);
        assert.match((await c.cmd('From: carol@c.test\r\nSubject: limited\r\n\r\nx\r\n.')).text, /^250 2\.6\.0 /);
        c.close();
        assert.deepEqual((await limited!.svc.relay.admin.list()).map((r) => r.recipient), ['bob@b.test']);
        assert.equal((await mailbox(limited!, 'carol@c.test')).length, 1);
      },
    ));
});

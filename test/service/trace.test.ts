import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KINDS, deepMerge, tempDir, testConfig } from '../helpers/env.js';
import { until } from '../helpers/wait.js';
import { poplib } from '../helpers/poplib.js';
import { RawSmtpClient, closedPort } from '../helpers/net.js';
import { PASSWORD, nextSettled, peerCertificate, routeTo, startProvider, submit, type Provider } from '../helpers/relay.js';
import { silentLogger } from '../../src/core/index.js';
import { startService } from '../../src/roles/index.js';
import type { MessageTrace, TraceDetail } from '../../src/service/index.js';
import { startReceiver } from '../helpers/mailin.js';

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

function traceOf(p: Provider): MessageTrace {
  assert.ok(p.svc.trace, 'the trace is on by default');
  return p.svc.trace;
}

const queueIdOf = (response: string) => /queued as (\w+)/.exec(response)![1]!;
const kinds = (d: TraceDetail) => d.events.map((e) => e.kind);
const detail = (d: TraceDetail, kind: string) => d.events.find((e) => e.kind === kind)?.detail;

for (const kind of STORE_KINDS) {
  describe(`message trace (${kind})`, () => {
    test('a local delivery: accepted (submission, TLS, AUTH user, envelope, Message-ID), stored, delivered; fetched and expunged over POP3; found by Message-ID, address and time', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['alice@a.test', 'carol@a.test'])],
        async (a) => {
          const trace = traceOf(a!);
          const before = Date.now();
          const info = await submit(a!, 'alice@a.test', ['carol@a.test'], { subject: 'Befund 4711' });
          const queueId = queueIdOf(info.response);
          const d = await trace.get(queueId);
          assert.deepEqual(kinds(d), ['accepted', 'stored', 'delivered']);
          assert.deepEqual([d.status, d.mailFrom, d.recipientAddresses, d.listener, d.authUser, d.komle], ['delivered', 'alice@a.test', ['carol@a.test'], 'smtp-submission', 'alice@a.test', false]);
          assert.match(d.tls!, /^TLSv1\.[23] \S+$/);
          assert.ok(d.messageId && /@/.test(d.messageId), 'the Message-ID nodemailer gave');
          const accepted = detail(d, 'accepted')!;
          assert.equal(accepted['clientIp'], '127.0.0.1');
          assert.match((accepted['tls'] as { protocol: string }).protocol, /^TLSv1\.[23]$/);
          assert.deepEqual([accepted['mailFrom'], accepted['recipients'], accepted['size'], accepted['komle']], ['alice@a.test', ['carol@a.test'], d.size, false]);
          assert.deepEqual(detail(d, 'delivered'), { mailbox: 'carol@a.test' });
          assert.equal(detail(d, 'stored')!['size'], d.size);
          assert.ok(d.size! > 100);
          const dump = await trace.dumpForTests();
          assert.ok(!dump.includes('Befund 4711'), 'no Subject in the trace');
          assert.ok(!dump.includes('Sehr geehrte'), 'no body in the trace');
          assert.ok(!dump.includes(PASSWORD), 'no password in the trace');

          // Lookup: by Message-ID (with or without <>, any case), by address (sender or recipient), by time.
          for (const messageId of [d.messageId!, `<${d.messageId!.toUpperCase()}>`]) assert.deepEqual((await trace.list({ messageId })).items.map((m) => m.id), [queueId]);
          for (const address of ['alice@a.test', 'Carol@A.test']) assert.deepEqual((await trace.list({ address })).items.map((m) => m.id), [queueId]);
          assert.deepEqual((await trace.list({ address: 'nobody@a.test' })).items, []);
          assert.deepEqual((await trace.list({ from: before, to: Date.now() + 1 })).items.map((m) => m.id), [queueId]);
          assert.deepEqual((await trace.list({ to: before - 60_000 })).items, []);

          // POP3: RETR, DELE, QUIT — fetched and expunged, by whom and when.
          await poplib(a!.svc.endpoints.pop3s!.port, 'implicit', 'carol@a.test', PASSWORD, [['retr', 1], ['dele', 1], ['quit']]);
          const after = await until('fetched and expunged traced', async () => {
            const x = await trace.get(queueId);
            return kinds(x).includes('expunged') && x;
          });
          assert.deepEqual(kinds(after), ['accepted', 'stored', 'delivered', 'fetched', 'expunged']);
          assert.equal(detail(after, 'fetched')!['mailbox'], 'carol@a.test');
          assert.ok(after.events.every((e) => e.node.length > 0 && !Number.isNaN(Date.parse(e.at))));
        },
      ));

    test('a fetch without DELE is traced when the session ends', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['alice@a.test', 'carol@a.test'])],
        async (a) => {
          const trace = traceOf(a!);
          const queueId = queueIdOf((await submit(a!, 'alice@a.test', ['carol@a.test'])).response);
          await poplib(a!.svc.endpoints.pop3s!.port, 'implicit', 'carol@a.test', PASSWORD, [['top', 1, 0], ['quit']]);
          const d = await until('fetched traced', async () => {
            const x = await trace.get(queueId);
            return kinds(x).includes('fetched') && x;
          });
          assert.deepEqual(kinds(d), ['accepted', 'stored', 'delivered', 'fetched']);
        },
      ));

    test('a refused RCPT on the MX: a rejected trace with the reply; a refused RCPT beside an accepted one is part of the accepted event', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['carol@a.test'])],
        async (a) => {
          const trace = traceOf(a!);
          const c = await RawSmtpClient.connect(a!.svc.endpoints['smtp-mx']!.port);
          await c.readReply();
          await c.cmd('EHLO client.example');
          assert.equal((await c.cmd('MAIL FROM:<x@remote.example>')).code, 250);
          assert.equal((await c.cmd('RCPT TO:<nobody@a.test>')).code, 550);
          // A new transaction ends the first one; its refusal is written then.
          assert.equal((await c.cmd('RSET')).code, 250);
          assert.equal((await c.cmd('MAIL FROM:<y@remote.example>')).code, 250);
          assert.equal((await c.cmd('RCPT TO:<ghost@a.test>')).code, 550);
          assert.equal((await c.cmd('RCPT TO:<carol@a.test>')).code, 250);
          assert.equal((await c.cmd('DATA')).code, 354);
          const accepted = await c.cmd('Message-ID: <refused-test@remote.example>\r\nSubject: t\r\n\r\nhello\r\n.');
          assert.equal(accepted.code, 250);
          await c.cmd('QUIT');

          const [rejected] = await until('the rejected transaction traced', async () => (await trace.list({ address: 'nobody@a.test' })).items);
          const r = await trace.get(rejected!.id);
          assert.deepEqual([r.status, r.listener, r.mailFrom, kinds(r)], ['rejected', 'smtp-mx', 'x@remote.example', ['rejected']]);
          const refused = detail(r, 'rejected')!['refused'] as Array<{ recipient: string; code: number; text: string }>;
          assert.deepEqual(refused.map((x) => [x.recipient, x.code]), [['nobody@a.test', 550]]);
          assert.match(refused[0]!.text, /^5\.1\.1 /);
          assert.equal(r.tls, null, 'a plain session');

          const ok = await trace.get(queueIdOf(accepted.text));
          assert.equal(ok.messageId, 'refused-test@remote.example');
          assert.deepEqual((detail(ok, 'accepted')!['refused'] as Array<{ recipient: string }>).map((x) => x.recipient), ['ghost@a.test']);
          assert.deepEqual((await trace.list({ address: 'ghost@a.test' })).items, [], 'the refused recipient of an accepted message is in its event, not its addresses');
        },
      ));

    test('a relay to a closed port on another node of the same store: accepted by one node, attempts by the other, with the reply and the next retry', (t) => {
      let port = 0;
      return withProviders(
        t,
        async () => {
          port = await closedPort();
          return [await startProvider(kind, 'a.test', ['alice@a.test'], deepMerge(await routeTo({ port }, 'b.test'), { service: { trace: { node: 'node-1' }, relay: { worker: { enabled: false } } } }))];
        },
        async (a) => {
          const tls = await peerCertificate();
          const dir = tempDir();
          const config = testConfig(dir.path, deepMerge(await routeTo({ port }, 'b.test'), { tls: { cert: tls.cert, key: tls.key }, service: { hostname: 'mx.a.test', trace: { node: 'node-2' }, relay: { worker: { pollIntervalMs: 100 } } } }));
          const second = await startService(config, silentLogger(), a!.svc.store);
          try {
            const node2 = { svc: second } as Provider;
            const settled = nextSettled(node2);
            const queueId = queueIdOf((await submit(a!, 'alice@a.test', ['bob@b.test'])).response);
            assert.deepEqual((await settled).deferred, ['bob@b.test']);
            // Each node writes behind (flushMs): node 2's attempt is written first here, before node 1
            // writes the message's own rows at the read below — the order and the status must still come out right.
            await second.trace!.flush();
            const d = await traceOf(a!).get(queueId);
            assert.deepEqual(kinds(d), ['accepted', 'stored', 'relay-attempt']);
            assert.deepEqual(d.events.map((e) => e.node), ['node-1', 'node-1', 'node-2']);
            assert.equal(d.status, 'deferred');
            assert.deepEqual(detail(d, 'stored')!['queuedForRelay'], ['bob@b.test']);
            const attempt = detail(d, 'relay-attempt')! as { domain: string; attempt: number; peers: Array<{ host: string; port: number; code: string }>; results: Record<string, { result: string; status: string; reply: string }>; nextRetry: string };
            assert.deepEqual([attempt.domain, attempt.attempt, attempt.peers.map((p) => [p.host, p.port])], ['b.test', 1, [['127.0.0.1', port]]]);
            assert.deepEqual([attempt.results['bob@b.test']!.result, attempt.results['bob@b.test']!.status], ['deferred', '4.4.1']);
            assert.match(attempt.results['bob@b.test']!.reply, /ECONNREFUSED/);
            assert.ok(Date.parse(attempt.nextRetry) > Date.now() + 30_000, 'the next retry is a minute away');
          } finally {
            await second.close();
            dir.cleanup();
          }
        },
      );
    });

    test('a relay refused by the peer (550): relayed for one recipient, bounced for the other, the DSN to the sender', (t) =>
      withProviders(
        t,
        async () => {
          const b = await startProvider('sqlite', 'b.test', ['bob@b.test']);
          const a = b && (await startProvider(kind, 'a.test', ['alice@a.test'], await routeTo(b, 'b.test')));
          return [b, a];
        },
        async (b, a) => {
          const settled = nextSettled(a!);
          const queueId = queueIdOf((await submit(a!, 'alice@a.test', ['bob@b.test', 'nobody@b.test'])).response);
          assert.equal((await settled).dsn, 'failed');
          const d = await traceOf(a!).get(queueId);
          assert.deepEqual(kinds(d), ['accepted', 'stored', 'relay-attempt', 'relayed', 'bounced', 'dsn-sent']);
          assert.equal(d.status, 'bounced');
          assert.deepEqual(detail(d, 'relayed'), { domain: 'b.test', recipients: ['bob@b.test'] });
          assert.deepEqual(detail(d, 'bounced'), { domain: 'b.test', recipients: ['nobody@b.test'] });
          assert.deepEqual(detail(d, 'dsn-sent'), { action: 'failed', to: 'alice@a.test' });
          const results = (detail(d, 'relay-attempt')!['results'] as Record<string, { status: string; reply: string }>)['nobody@b.test']!;
          assert.equal(results.status, '5.1.1');
          assert.match(results.reply, /^550 5\.1\.1 /);
          // B traced its side: accepted over its MX from A, with STARTTLS.
          const [atB] = (await traceOf(b!).list({ address: 'bob@b.test' })).items;
          const fromA = await traceOf(b!).get(atB!.id);
          assert.deepEqual([fromA.listener, fromA.status, fromA.messageId], ['smtp-mx', 'delivered', d.messageId]);
          assert.match(fromA.tls!, /^TLSv1\.[23] /);
        },
      ));

    test('mail-in agent runs: the before-delivery run in the acceptance, the after-delivery run when the worker settles it', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['alice@a.test'], { mailin: { worker: { pollIntervalMs: 50 }, webhook: { allowLoopbackTargets: true } } })],
        async (a) => {
          const rx = await startReceiver(() => ({ status: 200, body: {} }));
          try {
            await a!.svc.mailin.admin.addDatabase({ address: 'in@a.test', name: 'Eingang' });
            for (const trigger of ['before-delivery', 'after-delivery'] as const) await a!.svc.mailin.admin.addAgent('in@a.test', { trigger, webhook: rx.url, secret: 'a-long-shared-secret-0123456789' } as never);
            const queueId = queueIdOf((await submit(a!, 'alice@a.test', ['in@a.test'])).response);
            const d = await until('the after-delivery run traced', async () => {
              const x = await traceOf(a!).get(queueId);
              return x.events.filter((e) => e.kind === 'mailin-run').length === 2 && x;
            });
            assert.deepEqual(kinds(d), ['accepted', 'stored', 'mailin-run', 'mailin-run']);
            assert.deepEqual(detail(d, 'stored')!['mailin'], ['in@a.test']);
            const runs = d.events.filter((e) => e.kind === 'mailin-run').map((e) => [e.detail['trigger'], e.detail['outcome'], e.detail['httpStatus']]);
            assert.deepEqual(runs, [['before-delivery', 'accept', 200], ['after-delivery', 'accept', 200]]);
          } finally {
            await rx.close();
          }
        },
      ));

    test('service.trace.enabled false: nothing is traced, the message is delivered as before', (t) =>
      withProviders(
        t,
        async () => [await startProvider(kind, 'a.test', ['alice@a.test', 'carol@a.test'], { service: { trace: { enabled: false } } })],
        async (a) => {
          assert.equal(a!.svc.trace, undefined);
          await submit(a!, 'alice@a.test', ['carol@a.test']);
          const n = await a!.svc.store.db.selectFrom('trace_events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
          assert.equal(Number(n.n), 0);
        },
      ));
  });
}

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { deepMerge } from '../../helpers/env.js';
import { until } from '../../helpers/wait.js';
import { python } from '../../helpers/process.js';
import { closedPort } from '../../helpers/net.js';
import { PASSWORD, mailbox, routeTo, startProvider, type Provider } from '../../helpers/relay.js';

// smtplib submits at provider A with NOTIFY=SUCCESS for a user of provider B.
const SEND = String.raw`
import smtplib, ssl, sys, json
port, frm, to, msg, notify = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=20)
s.login(frm, sys.argv[6])
refused = s.sendmail(frm, [to], msg.encode(), rcpt_options=[notify] if notify else [])
s.quit()
print(json.dumps(refused))
`;

describe('KIM mail rules between two providers (issue 22 part 3)', () => {
  test('NOTIFY=SUCCESS (KOM-LE-A_2147) is passed on by the relay; B delivers and its success DSN comes back to A; B\'s autoreply too', async () => {
    // A's MX port is fixed first, so B can have a route back to it.
    const aMx = await closedPort();
    let a: Provider | null = null;
    const b = await startProvider('sqlite', 'b.test', ['bob@b.test'], await routeTo({ port: aMx }, 'a.test'));
    try {
      a = await startProvider('sqlite', 'a.test', ['alice@a.test'], deepMerge(await routeTo(b!, 'b.test'), { service: { smtp: { mx: { port: aMx } } } }));
      const port = a!.svc.endpoints['smtp-submission']!.port;
      const msg = (id: string) => `From: alice@a.test\r\nTo: bob@b.test\r\nSubject: Befund\r\nMessage-ID: <${id}@a.test>\r\n\r\nVERTRAULICH\r\n`;
      assert.deepEqual(await python(SEND, [port, 'alice@a.test', 'bob@b.test', msg('n1'), 'NOTIFY=SUCCESS', PASSWORD]), {});
      const dsn = await until('the success DSN from B in alice\'s mailbox', async () => (await mailbox(a!, 'alice@a.test')).find((m) => m.includes('report-type=delivery-status')));
      assert.match(dsn, /^Return-Path: <>\r\n/);
      assert.match(dsn, /\r\nReporting-MTA: dns; mx\.b\.test\r\n/, 'B, the target mail server, reports (faq.adoc)');
      assert.match(dsn, /Final-Recipient: rfc822; bob@b\.test\r\nAction: delivered\r\nStatus: 2\.0\.0/);
      assert.match(dsn, /\r\nIn-Reply-To: <n1@a\.test>\r\n/);
      assert.doesNotMatch(dsn, /VERTRAULICH/);

      // Bob is away: his provider answers alice through its relay, once.
      await b!.svc.store.db
        .updateTable('accounts')
        .set({ kim_out_of_office: JSON.stringify({ active: true, startDate: '2000-01-01T00:00:00Z', endDate: '2999-01-01T00:00:00Z', message: 'Im Urlaub.' }) })
        .where('address', '=', 'bob@b.test')
        .execute();
      for (const id of ['o1', 'o2']) assert.deepEqual(await python(SEND, [port, 'alice@a.test', 'bob@b.test', msg(id), '', PASSWORD]), {});
      const auto = await until('the autoreply from B', async () => (await mailbox(a!, 'alice@a.test')).find((m) => /\r\nAuto-Submitted: auto-replied\r\n/.test(m) && m.includes('Im Urlaub.')));
      assert.match(auto, /\r\nFrom: <bob@b\.test>\r\n/);
      assert.match(auto, /\r\nIn-Reply-To: <o1@a\.test>\r\n/);
      await until('bob has all three messages', async () => (await mailbox(b!, 'bob@b.test')).length === 3);
      // The second message was not answered (once per sender per intervalDays), and B counted that.
      await until('B counted the repeat', () => b!.svc.metrics.value('postamt_mail_rules_total', { rule: 'autoreply', outcome: 'repeated' }) === 1);
      await until('B\'s relay queue empty', async () => (await b!.svc.relay.admin.list()).length === 0);
      assert.equal((await mailbox(a!, 'alice@a.test')).filter((m) => m.includes('Im Urlaub.')).length, 1);
    } finally {
      await a?.close();
      await b?.close();
    }
  });
});

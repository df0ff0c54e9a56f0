import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { python } from '../helpers/process.js';
import { RawSmtpClient } from '../helpers/net.js';
import { startSmtpFixture, PASSWORD, type SmtpFixture } from '../helpers/smtp-fixture.js';

// Python's smtplib, a client we did not write, from 16 threads, each message on a connection of
// its own (how most MTAs and primary systems deliver): greeting, EHLO, (TLS, AUTH,) one
// transaction, QUIT — every one answered 250 and filed.
const SCRIPT = String.raw`
import smtplib, ssl, sys, json, threading
port, mode, threads, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
results = []
lock = threading.Lock()
def worker(t):
    for i in range(per):
        msg = ('From: alice@example.test\r\nTo: alice@example.test\r\nSubject: t%d m%d\r\n'
               'Message-ID: <t%d.m%d@smtplib.test>\r\n\r\nline one\r\n.line with a dot\r\n' % (t, i, t, i))
        try:
            if mode == 'submission':
                s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=20)
                s.login('alice@example.test', sys.argv[5])
            else:
                s = smtplib.SMTP('127.0.0.1', port, timeout=20)
                s.ehlo('python.client.test')
            refused = s.sendmail('alice@example.test', ['alice@example.test'], msg)
            code = s.noop()[0]
            s.quit()
            r = 'ok' if not refused and code == 250 else 'refused %r' % refused
        except Exception as e:
            r = '%s: %s' % (type(e).__name__, e)
        with lock:
            results.append(r)
ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps(results))
`;

describe('a connection per message from 16 smtplib threads (issue 20)', () => {
  let f: SmtpFixture;
  before(async () => {
    // Default login throttle (one check per address at once, four waiting): after one login the
    // password is a login-cache hit, and hits do not queue behind each other at the gate.
    f = (await startSmtpFixture('sqlite'))!;
    const warm = await RawSmtpClient.connect(f.submission.port, { tls: true });
    assert.equal((await warm.readReply()).code, 220);
    assert.equal((await warm.cmd('EHLO warm.test')).code, 250);
    assert.equal((await warm.cmd(`AUTH PLAIN ${Buffer.from(`\0alice@example.test\0${PASSWORD}`).toString('base64')}`)).code, 235);
    warm.close();
  });
  after(() => f.close());

  for (const mode of ['mx', 'submission'] as const) {
    test(`${mode}: every message accepted on its own connection and filed once`, async () => {
      const acc = await f.accounts.get('alice@example.test');
      const beforeCount = (await f.mailboxes.list(acc.id)).length;
      const port = (mode === 'mx' ? f.mx : f.submission).port;
      const results = await python<string[]>(SCRIPT, [port, mode, 16, 5, PASSWORD]);
      assert.equal(results.length, 80);
      assert.deepEqual(results.filter((r) => r !== 'ok'), []);
      const entries = await f.mailboxes.list(acc.id);
      assert.equal(entries.length - beforeCount, 80);
      const ids = new Set<string>();
      for (const e of entries.slice(beforeCount)) {
        const text = (await f.mailboxes.read(e)).toString('latin1');
        ids.add(/Message-ID: (<[^>]+>)/i.exec(text)![1]!);
        assert.match(text, /\r\n\.line with a dot\r\n/);
      }
      assert.equal(ids.size, 80, 'each message filed once');
    });
  }
});

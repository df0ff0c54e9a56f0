import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { testTls } from '../helpers/env.js';
import { startSmtpFixture, PASSWORD } from '../helpers/smtp-fixture.js';
import { silentLogger, Metrics } from '../../src/core/index.js';
import { ServicePop3Backend } from '../../src/service/index.js';
import { Pop3Client, Pop3Server } from '../../src/pop3/index.js';
import { SmtpClient } from '../../src/smtp/index.js';

const MB = 1024 * 1024;

/** About `size` bytes of base64 text in 76-character CRLF lines: a large attachment as mail carries it. */
function bigMessage(size: number): Buffer {
  const head = Buffer.from('From: <sender@example.org>\r\nTo: <alice@example.test>\r\nSubject: large\r\n\r\n');
  const b64 = randomBytes(Math.ceil(((size - head.length) / 78) * 57)).toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < b64.length; at += 76) lines.push(b64.slice(at, at + 76));
  return Buffer.concat([head, Buffer.from(lines.join('\r\n') + '\r\n')]);
}

test('a 50 MB message through SMTP into PostgreSQL-held blobs and out through POP3 RETR, byte-exact', async (t) => {
  const f = await startSmtpFixture('postgres', {
    blobs: { backend: 'database' },
    service: { smtp: { maxMessageSize: 64 * MB } },
  });
  if (!f) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
  const tls = await testTls();
  const pop3 = new Pop3Server({
    backend: new ServicePop3Backend(f.accounts, f.mailboxes),
    hostname: 'pop.example.test',
    tls,
    tlsMode: 'implicit',
    name: 'pop3s',
    limits: f.ts.config.service.pop3,
    logger: silentLogger(),
    metrics: new Metrics(),
  });
  try {
    const { port } = await pop3.listen();
    const message = bigMessage(50 * 1000 * 1000);
    const smtp = await SmtpClient.connect({ host: '127.0.0.1', port: f.mx.port, tls: 'starttls', ca: tls.cert, servername: 'localhost', clientName: 'relay.test', timeoutMs: 60_000, dataTimeoutMs: 120_000 });
    try {
      await smtp.send('sender@example.org', ['alice@example.test'], message);
    } finally {
      await smtp.quit();
    }
    const chunks = await f.ts.store.db.selectFrom('blob_chunks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.ok(Number(chunks.n) >= 48, `the message is stored in chunk rows (${chunks.n})`);

    const pop = await Pop3Client.connect({ host: '127.0.0.1', port, tls: 'implicit', ca: tls.cert, servername: 'localhost', timeoutMs: 60_000, maxResponseSize: 64 * MB });
    try {
      await pop.login('alice@example.test', PASSWORD);
      const got = await pop.retr(1);
      // What was sent, after the trace headers the service prepends.
      assert.ok(got.subarray(0, 13).toString() === 'Return-Path: ', 'starts with the trace headers');
      assert.ok(got.length > message.length && got.subarray(got.length - message.length).equals(message), 'the body arrives byte-exact');
      const acc = await f.accounts.get('alice@example.test');
      const [entry] = await f.mailboxes.list(acc.id);
      assert.equal(got.length, entry!.size);
    } finally {
      await pop.quit();
    }
  } finally {
    await pop3.close(0);
    await f.close();
  }
});

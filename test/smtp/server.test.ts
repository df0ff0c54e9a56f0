import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { mailbox, startSmtpFixture, PASSWORD, type SmtpFixture } from '../helpers/smtp-fixture.js';
import { RawSmtpClient } from '../helpers/net.js';
import { encodeSaslPlain } from '../../src/wire/index.js';

/** A raw MX session up to DATA's 354, for tests that need exact bytes on the wire. */
async function openData(f: SmtpFixture, rcpt = 'alice@example.test'): Promise<RawSmtpClient> {
  const c = await RawSmtpClient.connect(f.mx.port);
  assert.equal((await c.readReply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<sender@remote.test>')).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${rcpt}>`)).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  return c;
}

describe('SMTP service (MX and submission) over SQLite', () => {
  let f: SmtpFixture;
  before(async () => {
    f = (await startSmtpFixture('sqlite'))!;
  });
  after(async () => {
    await f.close();
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2007 (ESMTP greeting) and KOM-LE-A_2008 (EHLO keywords): the client module's listeners are the same SmtpListener
  test('EHLO advertises the required extensions with enhanced codes', async () => {
    const c = await RawSmtpClient.connect(f.mx.port);
    const greeting = await c.readReply();
    assert.match(greeting.text, /^220 mx\.test\.local ESMTP/);
    const ehlo = await c.cmd('EHLO client.test');
    for (const ext of ['SIZE 41943040', '8BITMIME', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'DSN', 'SMTPUTF8', 'STARTTLS']) {
      assert.ok(ehlo.lines.some((l) => l.slice(4) === ext), `missing ${ext} in ${ehlo.text}`);
    }
    assert.ok(!ehlo.lines.some((l) => l.includes('AUTH')), 'the MX listener must not offer AUTH');
    const quit = await c.cmd('QUIT');
    assert.match(quit.text, /^221 2\.0\.0/);
    c.close();
  });

  test('MX accepts mail for a local account with 250 2.6.0 and files it with trace headers', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: f.mx.port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false } });
    const info = await transport.sendMail({ from: 'sender@remote.test', to: 'alice@example.test', subject: 'Hallo Alice', text: 'Grüße aus der Praxis\n' });
    assert.match(info.response, /^250 2\.6\.0 Ok: queued as [0-9A-Z]+$/);
    const msgs = await mailbox(f, 'alice@example.test');
    const last = msgs[msgs.length - 1]!.toString('utf8');
    assert.match(last, /^Return-Path: <sender@remote\.test>\r\nReceived: from /);
    assert.match(last, /with ESMTPS \(TLSv1\.[23] /, 'STARTTLS is recorded in Received');
    assert.match(last, /for <alice@example\.test>;/);
    assert.match(last, /Subject: Hallo Alice/);
  });

  test('MX refuses unknown users (550 5.1.1) and relaying (554 5.7.1), then still works', async () => {
    const c = await RawSmtpClient.connect(f.mx.port);
    await c.readReply();
    await c.cmd('EHLO client.test');
    await c.cmd('MAIL FROM:<x@remote.test>');
    assert.match((await c.cmd('RCPT TO:<nobody@example.test>')).text, /^550 5\.1\.1 /);
    assert.match((await c.cmd('RCPT TO:<victim@elsewhere.test>')).text, /^554 5\.7\.1 .*relay access denied/);
    assert.match((await c.cmd('RCPT TO:<not an address>')).text, /^5\d\d 5\.1\.3 /);
    assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
    c.close();
  });

  test('a message over SIZE is refused with 552 5.3.4, declared or not', async () => {
    const c = await RawSmtpClient.connect(f.mx.port);
    await c.readReply();
    await c.cmd('EHLO client.test');
    assert.match((await c.cmd('MAIL FROM:<x@remote.test> SIZE=999999999')).text, /^552 5\.3\.4 /);
    c.close();

    const small = await startSmtpFixture('sqlite', { service: { smtp: { maxMessageSize: 4096 } } });
    try {
      const d = await openData(small!);
      const line = 'x'.repeat(70) + '\r\n';
      d.write('Subject: big\r\n\r\n' + line.repeat(100) + '.\r\n');
      assert.match((await d.readReply()).text, /^552 5\.3\.4 /);
      assert.equal((await d.cmd('NOOP')).code, 250, 'the session goes on after the refusal');
      d.close();
      assert.equal((await mailbox(small!, 'alice@example.test')).length, 0, 'nothing was filed');
    } finally {
      await small!.close();
    }
  });

  test('over quota: 552 5.2.2 at RCPT (declared size) and at DATA', async () => {
    const c = await RawSmtpClient.connect(f.mx.port);
    await c.readReply();
    await c.cmd('EHLO client.test');
    await c.cmd('MAIL FROM:<x@remote.test> SIZE=50000');
    assert.match((await c.cmd('RCPT TO:<bob@example.test>')).text, /^552 5\.2\.2 /);
    c.close();
    const d = await openData(f, 'bob@example.test');
    d.write('Subject: fills the quota\r\n\r\n' + ('y'.repeat(76) + '\r\n').repeat(300) + '.\r\n');
    assert.match((await d.readReply()).text, /^552 5\.2\.2 /);
    d.close();
    const bob = await f.accounts.get('bob@example.test');
    assert.equal(bob.usedBytes, 0, 'a refused message uses no quota');
  });

  test('bare LF, bare CR, NUL and over-long lines are refused with 554 5.6.0', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bare LF', 'Subject: a\r\n\r\nline one\nline two\r\n', /bare LF/],
      ['bare CR', 'Subject: a\r\n\r\nline one\rline two\r\n', /bare CR/],
      ['NUL', 'Subject: a\r\n\r\nnul\u0000here\r\n', /NUL/],
      ['long line', 'Subject: a\r\n\r\n' + 'z'.repeat(1200) + '\r\n', /longer than 998/],
    ];
    for (const [name, body, re] of cases) {
      const d = await openData(f);
      d.write(body + '.\r\n');
      const r = await d.readReply();
      assert.match(r.text, /^554 5\.6\.0 /, name);
      assert.match(r.text, re, name);
      assert.equal((await d.cmd('RSET')).code, 250, `${name}: session continues`);
      d.close();
    }
  });

  test('a message the blob store cannot write gets 451 4.3.0 (nothing filed); the next one is accepted', async () => {
    const tmp = join(f.ts.dir, 'blobs', 'tmp');
    const before = (await mailbox(f, 'alice@example.test')).length;
    // The blob thread cannot create its temp file: tmp is a file now, not a directory.
    renameSync(tmp, `${tmp}.away`);
    writeFileSync(tmp, 'not a directory');
    try {
      const c = await openData(f);
      const r = await c.cmd('Subject: lost\r\n\r\nbody\r\n.');
      assert.equal(r.code, 451);
      assert.match(r.text, /^451 4\.3\.0 /);
      c.close();
    } finally {
      rmSync(tmp);
      renameSync(`${tmp}.away`, tmp);
    }
    assert.equal((await mailbox(f, 'alice@example.test')).length, before, 'nothing was filed');
    const c = await openData(f);
    assert.equal((await c.cmd('Subject: kept\r\n\r\nbody\r\n.')).code, 250);
    c.close();
    assert.equal((await mailbox(f, 'alice@example.test')).length, before + 1);
  });

  test('8-bit headers and body are stored byte for byte', async () => {
    const before = (await mailbox(f, 'alice@example.test')).length;
    const raw = Buffer.concat([
      Buffer.from('From: =?utf-8?q?J=C3=BCrgen?= <j@remote.test>\r\nSubject: Überweisung für Döner\r\nX-Latin1: '),
      Buffer.from([0xe4, 0xf6, 0xfc]),
      Buffer.from('\r\n\r\nKörper mit Umlauten äöü\r\n..leading dot line\r\n'),
    ]);
    const d = await openData(f);
    d.write(Buffer.concat([raw, Buffer.from('.\r\n')]));
    assert.equal((await d.readReply()).code, 250);
    d.close();
    const msgs = await mailbox(f, 'alice@example.test');
    assert.equal(msgs.length, before + 1);
    const stored = msgs[msgs.length - 1]!;
    const bodyStart = stored.indexOf('From: =?utf-8');
    const expected = Buffer.concat([raw.subarray(0, raw.length - '..leading dot line\r\n'.length), Buffer.from('.leading dot line\r\n')]);
    assert.deepEqual(stored.subarray(bodyStart), expected, 'dot-unstuffed, otherwise identical');
  });

  test('unknown commands and pipelined garbage get 5xx answers in order; the server stays up', async () => {
    const c = await RawSmtpClient.connect(f.mx.port);
    await c.readReply();
    c.write('EHLO client.test\r\nFOO bar\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\nXYZZY\r\nNOOP\r\n');
    assert.equal((await c.readReply()).code, 250);
    assert.match((await c.readReply()).text, /^500 5\.5\.2 /);
    assert.equal((await c.readReply()).code, 250);
    assert.equal((await c.readReply()).code, 250);
    assert.match((await c.readReply()).text, /^500 5\.5\.2 /);
    assert.equal((await c.readReply()).code, 250);
    assert.match((await c.cmd('RCPT TO:<broken')).text, /^501 5\.\d\.\d /);
    c.write('A'.repeat(10_000) + '\r\n');
    const long = await c.readReply().catch(() => null);
    assert.ok(long === null || long.code >= 500, 'an over-long command line is refused or the connection closed');
    c.close();
    const again = await RawSmtpClient.connect(f.mx.port);
    assert.equal((await again.readReply()).code, 220, 'another client is still served');
    again.close();
  });

  test('recipient and unknown-command limits answer 452 4.5.3 and 421', async () => {
    const small = (await startSmtpFixture('sqlite', { service: { smtp: { maxRecipients: 2 } } }))!;
    try {
      const c = await RawSmtpClient.connect(small.mx.port);
      await c.readReply();
      await c.cmd('EHLO client.test');
      await c.cmd('MAIL FROM:<x@remote.test>');
      assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await c.cmd('RCPT TO:<bob@example.test>')).code, 250);
      assert.match((await c.cmd('RCPT TO:<carol@example.test>')).text, /^452 4\.5\.3 /);
      for (let i = 0; i < 9; i++) assert.equal((await c.cmd(`BOGUS${i}`)).code, 500);
      assert.match((await c.cmd('BOGUS9')).text, /^421 /);
      await c.waitClosed();
    } finally {
      await small.close();
    }
  });

  test('idle clients are cut off with 421 and the connection limit answers 421', async () => {
    const small = (await startSmtpFixture('sqlite', { service: { smtp: { socketTimeoutMs: 300, maxConnections: 2 } } }))!;
    try {
      const idle = await RawSmtpClient.connect(small.mx.port);
      assert.equal((await idle.readReply()).code, 220);
      assert.match((await idle.readReply()).text, /^421 /, 'idle timeout');
      await idle.waitClosed();
      const a = await RawSmtpClient.connect(small.mx.port);
      assert.equal((await a.readReply()).code, 220);
      // The listener counts a connection until it has seen its socket close, a moment after
      // the client did: until then the idle one still holds its place, so retry until b is served.
      let b: RawSmtpClient | undefined;
      for (let i = 0; i < 50 && !b; i++) {
        const x = await RawSmtpClient.connect(small.mx.port);
        if ((await x.readReply()).code === 220) b = x;
        else await x.waitClosed();
      }
      assert.ok(b, 'a second session is served once the idle one is gone');
      const c = await RawSmtpClient.connect(small.mx.port);
      assert.match((await c.readReply()).text, /^421 .*Too many connected clients/);
      for (const x of [a, b, c]) x.close();
    } finally {
      await small.close();
    }
  });

  test('submission: implicit TLS, AUTH required (530 5.7.0), bad credentials 535 5.7.8', async () => {
    const c = await RawSmtpClient.connect(f.submission.port, { tls: true });
    assert.equal((await c.readReply()).code, 220);
    const ehlo = await c.cmd('EHLO client.test');
    assert.ok(ehlo.lines.some((l) => /AUTH PLAIN LOGIN/.test(l)));
    assert.match((await c.cmd('MAIL FROM:<alice@example.test>')).text, /^530 5\.7\.0 /);
    const bad = encodeSaslPlain({ authcid: 'alice@example.test', password: 'wrong-password' });
    assert.match((await c.cmd(`AUTH PLAIN ${bad}`)).text, /^535 5\.7\.8 /);
    c.close();
  });

  test('submission: brute force is cut off after maxAuthFailures with 421', async () => {
    const c = await RawSmtpClient.connect(f.submission.port, { tls: true });
    await c.readReply();
    await c.cmd('EHLO client.test');
    const bad = encodeSaslPlain({ authcid: 'alice@example.test', password: 'nope-nope' });
    assert.equal((await c.cmd(`AUTH PLAIN ${bad}`)).code, 535);
    assert.equal((await c.cmd(`AUTH PLAIN ${bad}`)).code, 535);
    assert.match((await c.cmd(`AUTH PLAIN ${bad}`)).text, /^421 4\.7\.0 /);
    await c.waitClosed();
  });

  test('failed logins from one address slow down across connections (shared throttle)', async () => {
    const t = (await startSmtpFixture('sqlite', { service: { loginThrottle: { freeFailures: 1, baseDelayMs: 400 } } }))!;
    try {
      const bad = `AUTH PLAIN ${encodeSaslPlain({ authcid: 'alice@example.test', password: 'guess' })}`;
      const timeFailure = async (): Promise<number> => {
        const c = await RawSmtpClient.connect(t.submission.port, { tls: true });
        await c.readReply();
        await c.cmd('EHLO client.test');
        const t0 = performance.now();
        assert.equal((await c.cmd(bad)).code, 535);
        c.close();
        return performance.now() - t0;
      };
      const first = await timeFailure();
      const second = await timeFailure();
      const third = await timeFailure();
      assert.ok(first < 350, `the first failure costs only the base delay (${first.toFixed(0)} ms)`);
      assert.ok(second >= 390, `a new connection does not reset the penalty (${second.toFixed(0)} ms)`);
      assert.ok(third >= 790, `the penalty doubles (${third.toFixed(0)} ms)`);
    } finally {
      await t.close();
    }
  });

  test('submission: the envelope sender must be the authenticated account (553 5.7.1); own mail is delivered', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: f.submission.port, secure: true, auth: { user: 'alice@example.test', pass: PASSWORD }, tls: { rejectUnauthorized: false } });
    await assert.rejects(transport.sendMail({ from: 'bob@example.test', to: 'bob@example.test', subject: 'forged', text: 'x' }), (err: Error & { response?: string }) => {
      assert.match(err.response ?? '', /^553 5\.7\.1 /);
      return true;
    });
    const info = await transport.sendMail({ from: 'alice@example.test', to: ['bob@example.test', 'alice@example.test'], subject: 'to both', text: 'hello' });
    assert.match(info.response, /^250 2\.6\.0 /);
    assert.deepEqual(info.accepted.sort(), ['alice@example.test', 'bob@example.test']);
    const bobs = await mailbox(f, 'bob@example.test');
    assert.match(bobs[bobs.length - 1]!.toString(), /with ESMTPSA/);
    // This backend has no relay wired in (the service role's has: test/service/relay/e2e.test.ts), so other domains are refused.
    await assert.rejects(transport.sendMail({ from: 'alice@example.test', to: 'someone@other.test', subject: 'relay', text: 'x' }), /554 5\.7\.1/);
    transport.close();
  });

  test('metrics count accepted and rejected messages', () => {
    assert.ok(f.metrics.value('postamt_smtp_messages_accepted_total', { listener: 'smtp-mx' }) >= 2);
    assert.match(f.metrics.render(), /postamt_smtp_messages_rejected_total\{listener="smtp-mx",code="5\.6\.0"\} \d+/);
  });
});

describe('SMTP service over PostgreSQL', () => {
  test('delivers into a mailbox and enforces quota atomically', async (t) => {
    const f = await startSmtpFixture('postgres');
    if (!f) return t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
    try {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: f.mx.port, secure: false, tls: { rejectUnauthorized: false } });
      const sends = Array.from({ length: 10 }, (_, i) => transport.sendMail({ from: 'a@remote.test', to: 'bob@example.test', subject: `n${i}`, text: 'q'.repeat(3000) }).then(() => true, () => false));
      const ok = (await Promise.all(sends)).filter(Boolean).length;
      const bob = await f.accounts.get('bob@example.test');
      const stored = await mailbox(f, 'bob@example.test');
      assert.equal(stored.length, ok, 'every 250 is in the mailbox, nothing else');
      assert.ok(ok >= 1 && ok < 10, `quota 20000 lets some but not all 10 messages in (got ${ok})`);
      assert.ok(bob.usedBytes <= 20_000);
      assert.equal(bob.usedBytes, stored.reduce((s, m) => s + m.length, 0));
      transport.close();
    } finally {
      await f.close();
    }
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { RawSmtpClient } from '../helpers/net.js';
import { startSmtpFixture, type SmtpFixture } from '../helpers/smtp-fixture.js';

// Issue 17, fault 3: slow clients, connections per address, sessions collecting errors.

async function fixture(smtp: Record<string, unknown>): Promise<SmtpFixture> {
  const f = await startSmtpFixture('sqlite', { service: { smtp } });
  assert.ok(f);
  return f;
}

async function greeted(port: number, localAddress?: string): Promise<RawSmtpClient> {
  const c = await RawSmtpClient.connect(port, localAddress ? { localAddress } : {});
  assert.equal((await c.readReply()).code, 220);
  return c;
}

test('a client trickling a command line a byte at a time is cut off at the command deadline (421 4.4.2)', async () => {
  const f = await fixture({ socketTimeoutMs: 1500 });
  try {
    const c = await greeted(f.mx.port);
    const started = performance.now();
    const { sent, closedFirst } = await c.trickle('EHLO a-very-slow-client.example.test and more and more', 200);
    const rest = await c.rest();
    assert.ok(closedFirst, `the server still listened after ${sent} bytes`);
    assert.match(rest, /^421 4\.4\.2 Timeout waiting for a command/m);
    assert.ok(performance.now() - started < 4000, 'cut off near the deadline although bytes kept coming');
    assert.equal(f.metrics.value('postamt_smtp_cutoffs_total', { listener: 'smtp-mx', why: 'command' }), 1);
  } finally {
    await f.close();
  }
});

test('the command deadline restarts with every reply: a client that sends whole commands stays', async () => {
  const f = await fixture({ socketTimeoutMs: 1000 });
  try {
    const c = await greeted(f.mx.port);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400)); // the client's pace: 1.6 s in all, past one deadline
      assert.equal((await c.cmd('NOOP')).code, 250);
    }
    c.close();
  } finally {
    await f.close();
  }
});

async function inData(f: SmtpFixture): Promise<RawSmtpClient> {
  const c = await greeted(f.mx.port);
  assert.equal((await c.cmd('EHLO slow.test')).code, 250);
  assert.equal((await c.cmd('MAIL FROM:<slow@other.test>')).code, 250);
  assert.equal((await c.cmd('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  return c;
}

test('DATA has a deadline for the whole phase, whole lines or not (421 4.4.2), and nothing is delivered', async () => {
  const f = await fixture({ dataTimeoutMs: 1500, minDataRate: 0 });
  try {
    const c = await inData(f);
    const started = performance.now();
    const { closedFirst } = await c.trickle('Subject: slow\r\n\r\n' + 'line\r\n'.repeat(100), 50);
    assert.ok(closedFirst);
    assert.match(await c.rest(), /^421 4\.4\.2 The DATA phase took too long/m);
    assert.ok(performance.now() - started < 4000);
    const alice = await f.accounts.get('alice@example.test');
    assert.equal((await f.mailboxes.list(alice.id)).length, 0);
    assert.equal(f.metrics.value('postamt_smtp_cutoffs_total', { listener: 'smtp-mx', why: 'data' }), 1);
  } finally {
    await f.close();
  }
});

test('DATA slower than the least rate over a window is cut off (421 4.4.2)', async () => {
  const f = await fixture({ minDataRate: 200, dataRateWindowMs: 1000 });
  try {
    const c = await inData(f);
    // 20 bytes per second, a tenth of the least rate.
    const { closedFirst } = await c.trickle('Subject: slow\r\n\r\n' + 'x'.repeat(200) + '\r\n', 50);
    assert.ok(closedFirst);
    assert.match(await c.rest(), /^421 4\.4\.2 DATA is arriving too slowly/m);
    assert.equal(f.metrics.value('postamt_smtp_cutoffs_total', { listener: 'smtp-mx', why: 'rate' }), 1);
  } finally {
    await f.close();
  }
});

test('a client that keeps the least DATA rate is delivered', async () => {
  const f = await fixture({ minDataRate: 100, dataRateWindowMs: 500 });
  try {
    const c = await inData(f);
    for (let i = 0; i < 6; i++) {
      c.write(`line ${i} ${'y'.repeat(80)}\r\n`);
      await new Promise((r) => setTimeout(r, 200)); // ~440 bytes a second
    }
    const r = await c.cmd('.');
    assert.equal(r.code, 250, r.text);
    c.close();
  } finally {
    await f.close();
  }
});

test('connections per client address are limited; other addresses and closed slots are served', async () => {
  const f = await fixture({ maxConnectionsPerAddress: 2, connectionLimitExceptions: [] });
  try {
    const a = [await greeted(f.mx.port, '127.0.0.2'), await greeted(f.mx.port, '127.0.0.2')];
    const over = await RawSmtpClient.connect(f.mx.port, { localAddress: '127.0.0.2' });
    assert.match(await over.rest(), /^421 4\.7\.0 .*Too many connections from your address/);
    const other = await greeted(f.mx.port, '127.0.0.3');
    a[0]!.close();
    await a[0]!.waitClosed();
    // The slot is free once the server has seen the close: a new connection is greeted.
    let again: RawSmtpClient | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      const c = await RawSmtpClient.connect(f.mx.port, { localAddress: '127.0.0.2' });
      const first = await c.line();
      if (first.startsWith('220')) again = c;
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(again, 'a freed slot is given to the address again');
    for (const c of [a[1]!, other, again]) c.close();
  } finally {
    await f.close();
  }
});

test('loopback is not counted by default (a local client module or relay host)', async () => {
  const f = await fixture({ maxConnectionsPerAddress: 1 });
  try {
    const a = await greeted(f.mx.port);
    const b = await greeted(f.mx.port);
    a.close();
    b.close();
  } finally {
    await f.close();
  }
});

test('a session collecting errors is slowed after the soft limit and closed at the hard limit (Postfix error limits)', async () => {
  const f = await fixture({ softErrorLimit: 2, hardErrorLimit: 4, errorDelayMs: 300 });
  try {
    const c = await greeted(f.mx.port);
    assert.equal((await c.cmd('EHLO guesser.test')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<g@other.test>')).code, 250);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      assert.equal((await c.cmd(`RCPT TO:<nobody${i}@example.test>`)).code, 550);
      times.push(performance.now() - t);
    }
    assert.ok(times[0]! < 250 && times[1]! < 250, `the first errors are answered at once (${times.map(Math.round).join(', ')} ms)`);
    assert.ok(times[2]! >= 290, `past the soft limit an error waits (${Math.round(times[2]!)} ms)`);
    c.write('RCPT TO:<nobody3@example.test>\r\n');
    const rest = await c.rest();
    assert.match(rest, /^550 /m);
    assert.match(rest, /^421 4\.7\.0 Too many errors/m);
    assert.equal(f.metrics.value('postamt_smtp_cutoffs_total', { listener: 'smtp-mx', why: 'errors' }), 1);
  } finally {
    await f.close();
  }
});

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { startSmtpFixture, type SmtpFixture } from '../helpers/smtp-fixture.js';
import { RawSmtpClient } from '../helpers/net.js';
import { parseConfig } from '../../src/config/index.js';
import { GreetingGate } from '../../src/smtp/greeting-gate.js';
import { addressList } from '../../src/core/index.js';

// The greeting delay (postscreen's pregreet test) on the service's SMTP listeners. A client from
// loopback is never delayed, so the delayed cases connect from this host's non-loopback address
// to a listener on all addresses; they are skipped on a host without one.

const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

/** Milliseconds from connect() to the whole 220 greeting. */
async function greetingMs(port: number, host = '127.0.0.1'): Promise<number> {
  const t0 = performance.now();
  const c = await RawSmtpClient.connect(port, { host });
  const r = await c.readReply();
  const ms = performance.now() - t0;
  assert.equal(r.code, 220, r.text);
  assert.equal((await c.cmd('QUIT')).code, 221);
  return ms;
}

async function medianGreetingMs(port: number, host?: string, n = 5): Promise<number> {
  const all: number[] = [];
  for (let i = 0; i < n; i++) all.push(await greetingMs(port, host));
  return all.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

const fixtures: SmtpFixture[] = [];
after(async () => {
  for (const f of fixtures) await f.close();
});

async function fixture(greetingDelay?: { delayMs: number; rememberMs?: number; exempt?: string[] }): Promise<SmtpFixture> {
  const gd = greetingDelay ? { rememberMs: 60_000, maxRemembered: 1000, exempt: [], ...greetingDelay } : undefined;
  const f = (await startSmtpFixture('sqlite', {}, { host: '0.0.0.0', ...(gd ? { greetingDelay: gd } : {}) }))!;
  fixtures.push(f);
  return f;
}

describe('SMTP greeting delay', () => {
  test('off by default: the config says 0 ms and the greeting arrives at once, well under smtp-server\'s 100 ms', async () => {
    const cfg = parseConfig({});
    for (const gd of [cfg.service.smtp.mx.greetingDelay, cfg.service.smtp.submission.greetingDelay, cfg.clientModule.smtp.starttls.greetingDelay, cfg.clientModule.smtp.implicit.greetingDelay]) {
      assert.equal(gd.delayMs, 0);
    }
    const f = await fixture(cfg.service.smtp.mx.greetingDelay);
    const loop = await medianGreetingMs(f.mx.port);
    assert.ok(loop < 50, `median greeting over loopback after ${loop.toFixed(1)} ms`);
    if (external) {
      const ext = await medianGreetingMs(f.mx.port, external);
      assert.ok(ext < 50, `median greeting from ${external} after ${ext.toFixed(1)} ms`);
    }
  });

  test('on: a new client waits for the greeting, the same client next time does not', async (t) => {
    if (!external) return t.skip('no non-loopback IPv4 interface on this host');
    const f = await fixture({ delayMs: 600 });
    const first = await greetingMs(f.mx.port, external);
    assert.ok(first >= 590, `first greeting after ${first.toFixed(1)} ms, expected the 600 ms delay`);
    const second = await greetingMs(f.mx.port, external);
    assert.ok(second < 300, `second greeting after ${second.toFixed(1)} ms: the client passed and is remembered`);
  });

  test('on: never for loopback, never for an exempt network', async (t) => {
    const f = await fixture({ delayMs: 5000, ...(external ? { exempt: [`${external}/32`] } : {}) });
    const loop = await medianGreetingMs(f.mx.port, '127.0.0.1', 3);
    assert.ok(loop < 1000, `loopback greeting after ${loop.toFixed(1)} ms with a 5 s delay`);
    if (!external) return t.skip('no non-loopback IPv4 interface on this host (exempt part)');
    const ext = await medianGreetingMs(f.mx.port, external, 3);
    assert.ok(ext < 1000, `exempt client's greeting after ${ext.toFixed(1)} ms with a 5 s delay`);
  });

  test('a client that talks before the greeting is refused with 554 5.5.1 and closed; the server stays up', async (t) => {
    if (!external) return t.skip('no non-loopback IPv4 interface on this host');
    const f = await fixture({ delayMs: 5000 });
    const c = await RawSmtpClient.connect(f.mx.port, { host: external });
    c.write('EHLO early.talker\r\n');
    const r = await c.readReply();
    assert.equal(r.code, 554);
    assert.match(r.text, /^554 5\.5\.1 .*talked before the greeting/);
    await c.waitClosed();
    assert.equal(f.metrics.value('postamt_smtp_pregreet_total', { listener: 'smtp-mx' }), 1);
    // On implicit TLS the greeting is held inside TLS: talking there first is the same offence.
    const s = await RawSmtpClient.connect(f.submission.port, { host: external, tls: true });
    s.write('EHLO early.talker\r\n');
    assert.match((await s.readReply()).text, /^554 5\.5\.1 /);
    await s.waitClosed();
    assert.equal(f.metrics.value('postamt_smtp_pregreet_total', { listener: 'smtp-submission' }), 1);
    // The server still serves; the early talker was not remembered as having passed.
    assert.ok((await greetingMs(f.mx.port)) < 1000);
    const again = await RawSmtpClient.connect(f.mx.port, { host: external });
    again.write('NOOP\r\n');
    assert.equal((await again.readReply()).code, 554);
    await again.waitClosed();
  });
});

describe('GreetingGate', () => {
  test('remembers a client that passed for rememberMs, at most maxRemembered clients, oldest forgotten first', () => {
    let now = 0;
    const gate = new GreetingGate({ delayMs: 100, rememberMs: 1000, maxRemembered: 2, exempt: addressList(['10.9.0.0/16', 'fd00:9::/32']) }, () => now);
    assert.equal(gate.delayFor('192.0.2.7'), 100);
    gate.pass('::ffff:192.0.2.7');
    assert.equal(gate.delayFor('192.0.2.7'), 0, 'IPv4-mapped and plain IPv4 are one client');
    now = 999;
    assert.equal(gate.delayFor('192.0.2.7'), 0);
    now = 1000;
    assert.equal(gate.delayFor('192.0.2.7'), 100, 'expired');
    gate.pass('192.0.2.1');
    gate.pass('192.0.2.2');
    gate.pass('192.0.2.3');
    assert.equal(gate.delayFor('192.0.2.1'), 100, 'the oldest is forgotten beyond maxRemembered');
    assert.equal(gate.delayFor('192.0.2.3'), 0);
    gate.fail('192.0.2.3');
    assert.equal(gate.delayFor('192.0.2.3'), 100, 'a pregreet forgets a client that had passed');
    for (const a of ['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.1', '10.9.200.1', 'fd00:9::1']) assert.equal(gate.delayFor(a), 0, a);
    assert.equal(new GreetingGate({ delayMs: 0, rememberMs: 1000, maxRemembered: 2, exempt: addressList([]) }).delayFor('192.0.2.7'), 0);
  });
});

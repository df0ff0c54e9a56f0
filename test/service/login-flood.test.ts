import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { startService, type RunningService } from '../../src/roles/service.js';
import { silentLogger } from '../../src/core/index.js';
import { RawPop3Client, RawSmtpClient } from '../helpers/net.js';
import { tempDir, testConfig } from '../helpers/env.js';

// Issue 17, fault 1: wrong passwords as a denial of service. The account has a real scrypt hash
// (the default cost), the flood comes from 127.0.0.2, everything else from 127.0.0.1.

const PASSWORD = 'the right password 17';
const FLOOD_FROM = '127.0.0.2';

async function flood(port: number, connections: number, stop: { done: boolean }): Promise<number> {
  let attempts = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (!stop.done) {
        let c: RawPop3Client | undefined;
        try {
          c = await RawPop3Client.connect(port, { localAddress: FLOOD_FROM });
          await c.line();
          while (!stop.done) {
            await c.cmd('USER alice@test.local');
            attempts++;
            const answer = await c.cmd(`PASS wrong-${attempts}`);
            if (!answer.startsWith('-ERR')) throw new Error(`a wrong password was answered ${answer}`);
            if (answer.includes('closing')) break;
          }
        } catch (err) {
          if (!stop.done && !/closed|ended/i.test(String(err))) throw err;
        } finally {
          c?.close();
        }
      }
    }),
  );
  return attempts;
}

async function mxDelivery(port: number): Promise<number> {
  const c = await RawSmtpClient.connect(port);
  try {
    assert.equal((await c.readReply()).code, 220);
    assert.equal((await c.cmd('EHLO peer.test')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<peer@other.test>')).code, 250);
    assert.equal((await c.cmd('RCPT TO:<alice@test.local>')).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const started = performance.now();
    const r = await c.cmd('Subject: during the flood\r\n\r\nhello\r\n.');
    assert.equal(r.code, 250, r.text);
    return performance.now() - started;
  } finally {
    c.close();
  }
}

test('a POP3 wrong-password flood from one address: MX 250s within 1 s, another address logs in, few hashes computed (issue 17 fault 1)', async () => {
  const dir = tempDir();
  let svc: RunningService | undefined;
  try {
    svc = await startService(testConfig(dir.path, { service: { passwordThreads: 1 } }), silentLogger());
    await svc.accounts.addDomain('test.local');
    await svc.accounts.add({ address: 'alice@test.local', password: PASSWORD, displayName: '' });
    const pop3 = svc.endpoints.pop3!.port;
    const mx = svc.endpoints['smtp-mx']!.port;

    const stop = { done: false };
    const flooding = flood(pop3, 16, stop);
    const latencies: number[] = [];
    const until = performance.now() + 6000;
    let loggedIn = -1;
    while (performance.now() < until) {
      latencies.push(await mxDelivery(mx));
      if (loggedIn < 0 && latencies.length === 5) {
        const started = performance.now();
        const c = await RawPop3Client.connect(pop3);
        await c.line();
        await c.login('alice@test.local', PASSWORD);
        loggedIn = performance.now() - started;
        c.close();
      }
    }
    stop.done = true;
    const attempts = await flooding;

    const checked = svc.metrics.value('postamt_pop3_logins_total', { listener: 'pop3', result: 'failed' });
    const turnedAway = svc.metrics.value('postamt_pop3_logins_total', { listener: 'pop3', result: 'penalised' }) + svc.metrics.value('postamt_pop3_logins_total', { listener: 'pop3', result: 'busy' });
    assert.ok(latencies.length >= 5, `only ${latencies.length} deliveries in 6 s`);
    assert.ok(Math.max(...latencies) < 1000, `an MX 250 took ${Math.round(Math.max(...latencies))} ms during the flood`);
    assert.ok(loggedIn >= 0 && loggedIn < 2000, `the correct login from another address took ${Math.round(loggedIn)} ms`);
    // Five free failures, then one check per penalty (2 s, doubling): however many connections.
    assert.ok(checked <= 9, `${checked} of ${attempts} wrong passwords were hashed`);
    assert.ok(turnedAway >= 16, `only ${turnedAway} attempts were turned away unchecked`);
  } finally {
    await svc?.close();
    dir.cleanup();
  }
});

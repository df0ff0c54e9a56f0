import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { once } from 'node:events';
import { STORE_KINDS } from '../helpers/env.js';
import { pop3Fixture, PASSWORD, type Pop3Fixture } from '../helpers/pop3-fixture.js';
import { RawPop3Client } from '../helpers/net.js';
import { run } from '../helpers/process.js';
import { poplib, bodyOf } from '../helpers/poplib.js';

/** Lines starting with dots (one, two, a lone dot), 8-bit bytes and a bare CR in a line. */
const TRICKY = Buffer.concat([
  Buffer.from('From: sender@example.org\r\nTo: alice@test.local\r\nSubject: dots\r\n\r\n'),
  Buffer.from('.starts with a dot\r\n..two dots\r\n.\r\nmiddle . dot\r\n'),
  Buffer.from([0xe4, 0xf6, 0xfc, 0x80, 0xff, 0x20, 0x0d, 0x41, 0x0d, 0x0a]),
  Buffer.from('last line\r\n'),
]);
const SIMPLE = 'From: a@example.org\r\nSubject: second\r\n\r\nline 1\r\nline 2\r\nline 3\r\n';

for (const kind of STORE_KINDS) {
  describe(`POP3 service over ${kind}`, { concurrency: true }, () => {
    let fx: Pop3Fixture | null;
    before(async () => {
      fx = await pop3Fixture(kind);
    });
    after(async () => fx?.close());

    test('poplib over STLS: STAT, LIST, UIDL, RETR byte-exact, TOP, DELE takes effect at QUIT', async (t) => {
      if (!fx) return t.skip('PostgreSQL tests skipped (POSTAMT_TEST_SKIP_PG=1)');
      const acc = await fx.account();
      await fx.deliver(acc, TRICKY);
      await fx.deliver(acc, SIMPLE);
      const uids = await fx.uids(acc);
      const released = fx.backend.released(acc.address);
      const r = await poplib(fx.plainPort, 'stls', acc.address, PASSWORD, [
        ['stat'],
        ['list'],
        ['uidl'],
        ['retr', 1],
        ['top', 1, 0],
        ['top', 2, 2],
        ['dele', 1],
        ['stat'],
        ['quit'],
      ]);
      assert.equal(r.welcome, '+OK pop.test.local POP3 ready');
      // After STLS: login offered, STLS no more.
      assert.ok(r.capa.includes('USER') && r.capa.includes('SASL') && r.capa.includes('PIPELINING'));
      assert.ok(!r.capa.includes('STLS'));
      const size = TRICKY.length + SIMPLE.length;
      assert.deepEqual(r.results[0], [2, size]);
      assert.deepEqual(r.results[1], [`1 ${TRICKY.length}`, `2 ${SIMPLE.length}`]);
      assert.deepEqual(r.results[2], [`1 ${uids[0]}`, `2 ${uids[1]}`]);
      assert.ok(bodyOf(r.results[3]).equals(TRICKY), 'RETR must return the stored bytes exactly');
      assert.equal(bodyOf(r.results[4]).toString('latin1'), 'From: sender@example.org\r\nTo: alice@test.local\r\nSubject: dots\r\n\r\n');
      assert.equal(bodyOf(r.results[5]).toString(), 'From: a@example.org\r\nSubject: second\r\n\r\nline 1\r\nline 2\r\n');
      assert.deepEqual(r.results[7], [1, SIMPLE.length]);
      assert.match(String(r.results[8]), /^\+OK .*\(1 messages left\)/);
      await released;
      assert.deepEqual(await fx.uids(acc), [uids[1]]);
    });

    test('two sessions on one mailbox: snapshot at login, removal by the other reported', async (t) => {
      if (!fx) return t.skip('PostgreSQL tests skipped (POSTAMT_TEST_SKIP_PG=1)');
      const acc = await fx.account();
      await fx.deliver(acc, SIMPLE);
      await fx.deliver(acc, TRICKY);
      // The same content again: its blob outlives message 1, which must still count as gone.
      await fx.deliver(acc, SIMPLE);
      const a = await RawPop3Client.connect(fx.plainPort);
      const b = await RawPop3Client.connect(fx.plainPort);
      await Promise.all([a.line(), b.line()]);
      await a.login(acc.address, PASSWORD);
      await b.login(acc.address, PASSWORD);
      await fx.deliver(acc, 'Subject: late\r\n\r\nafter both logins\r\n');
      // b reads message 1 before the removal: what it read ahead then must not outlive the expunge.
      assert.match(await b.cmd('RETR 1'), /^\+OK/);
      assert.ok((await b.body()).length > 0);

      assert.match(await a.cmd('DELE 1'), /^\+OK/);
      const aReleased = fx.backend.released(acc.address);
      assert.match(await a.cmd('QUIT'), /^\+OK .*\(2 messages left\)/);
      await aReleased;

      // b still sees its snapshot: the three old messages, not the late one.
      assert.equal(await b.cmd('STAT'), `+OK 3 ${2 * SIMPLE.length + TRICKY.length}`);
      assert.equal(await b.cmd('RETR 1'), '-ERR message 1 was removed by another session');
      assert.equal(await b.cmd('TOP 1 0'), '-ERR message 1 was removed by another session');
      assert.equal(await b.cmd('RETR 2'), `+OK ${TRICKY.length} octets`);
      assert.equal((await b.body()).length, TRICKY.toString('latin1').split('\r\n').length - 1);
      // Deleting what is already gone is harmless.
      assert.match(await b.cmd('DELE 1'), /^\+OK/);
      assert.match(await b.cmd('QUIT'), /^\+OK/);

      const c = await RawPop3Client.connect(fx.plainPort);
      await c.line();
      await c.login(acc.address, PASSWORD);
      assert.match(await c.cmd('STAT'), /^\+OK 3 /);
      await c.cmd('QUIT');
    });

    test('a dropped connection deletes nothing; RSET unmarks; UIDs stay stable across sessions', async (t) => {
      if (!fx) return t.skip('PostgreSQL tests skipped (POSTAMT_TEST_SKIP_PG=1)');
      const acc = await fx.account();
      for (let i = 1; i <= 3; i++) await fx.deliver(acc, `Subject: ${i}\r\n\r\nbody ${i}\r\n`);
      const before = await fx.uids(acc);

      const a = await RawPop3Client.connect(fx.plainPort);
      await a.line();
      await a.login(acc.address, PASSWORD);
      const uidl = (await a.cmd('UIDL')) && (await a.body());
      assert.deepEqual(uidl, before.map((u, i) => `${i + 1} ${u}`));
      assert.match(await a.cmd('DELE 1'), /^\+OK/);
      assert.equal(await a.cmd('DELE 1'), '-ERR message 1 already deleted');
      assert.equal(await a.cmd('RETR 1'), '-ERR message 1 already deleted');
      assert.equal(await a.cmd('LIST 1'), '-ERR message 1 already deleted');
      assert.match(await a.cmd('STAT'), /^\+OK 2 /);
      const released = fx.backend.released(acc.address);
      let committed = false;
      // Tests of this suite run at once on one backend: only a commit of this account counts.
      const onCommit = (account: string) => {
        if (account === acc.address) committed = true;
      };
      fx.backend.on('commit', onCommit);
      a.close();
      await released;
      fx.backend.off('commit', onCommit);
      assert.equal(committed, false, 'no UPDATE state without QUIT');
      assert.deepEqual(await fx.uids(acc), before);

      const b = await RawPop3Client.connect(fx.plainPort);
      await b.line();
      await b.login(acc.address, PASSWORD);
      await b.cmd('DELE 2');
      assert.equal(await b.cmd('RSET'), `+OK maildrop has 3 messages (${3 * 'Subject: 1\r\n\r\nbody 1\r\n'.length} octets)`);
      await b.cmd('DELE 2');
      assert.match(await b.cmd('QUIT'), /\(2 messages left\)/);
      await fx.deliver(acc, 'Subject: 4\r\n\r\nbody 4\r\n');

      const r = await poplib(fx.plainPort, 'plain', acc.address, PASSWORD, [['uidl'], ['quit']]);
      const after = await fx.uids(acc);
      assert.deepEqual(after.slice(0, 2), [before[0], before[2]], 'surviving messages keep their UIDs');
      assert.ok(!before.includes(after[2]!), 'a new message gets a new UID');
      assert.deepEqual(r.results[0], after.map((u, i) => `${i + 1} ${u}`));
    });
  });
}

describe('POP3 service with other clients and listeners (SQLite)', { concurrency: true }, () => {
  let fx: Pop3Fixture;
  before(async () => {
    fx = (await pop3Fixture('sqlite'))!;
  });
  after(async () => fx.close());

  test('poplib over implicit TLS (POP3S)', async () => {
    const acc = await fx.account();
    await fx.deliver(acc, TRICKY);
    const r = await poplib(fx.implicitPort, 'implicit', acc.address, PASSWORD, [['stat'], ['retr', 1], ['quit']]);
    assert.ok(!r.capa.includes('STLS'), 'no STLS inside TLS');
    assert.deepEqual(r.results[0], [1, TRICKY.length]);
    assert.ok(bodyOf(r.results[1]).equals(TRICKY));
    assert.equal((await fx.uids(acc)).length, 1, 'RETR alone deletes nothing');
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2031 (SASL PLAIN server part; the client module's listeners are the same Pop3Server)
  test('curl: list and retrieve over plain (loopback, SASL PLAIN) and over POP3S', async () => {
    const acc = await fx.account();
    await fx.deliver(acc, TRICKY);
    await fx.deliver(acc, SIMPLE);
    const auth = ['-u', `${acc.address}:${PASSWORD}`];
    const list = await run('curl', ['-sS', ...auth, `pop3://127.0.0.1:${fx.plainPort}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout, `1 ${TRICKY.length}\r\n2 ${SIMPLE.length}\r\n`);
    const one = await run('curl', ['-sS', ...auth, `pop3://127.0.0.1:${fx.plainPort}/1`]);
    assert.equal(one.code, 0, one.stderr);
    assert.ok(one.raw.equals(TRICKY), 'curl un-stuffs to the exact bytes');
    const two = await run('curl', ['-sSk', ...auth, `pop3s://127.0.0.1:${fx.implicitPort}/2`]);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(two.stdout, SIMPLE);
    const wrong = await run('curl', ['-sS', '-u', `${acc.address}:wrong password`, `pop3://127.0.0.1:${fx.plainPort}/1`]);
    assert.notEqual(wrong.code, 0, 'a wrong password must fail');
  });

  // Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2030 (CAPA offers USER and SASL PLAIN), KOM-LE-A_2067 (no cleartext login without TLS): the client module's listeners are the same Pop3Server
  test('allowPlaintextAuth never: no login before STLS, login after it and on POP3S', async () => {
    const acc = await fx.account();
    const { port } = await fx.server('starttls', { allowPlaintextAuth: 'never' });
    const c = await RawPop3Client.connect(port);
    await c.line();
    await c.cmd('CAPA');
    const caps = await c.body();
    assert.ok(caps.includes('STLS'));
    assert.ok(!caps.includes('USER') && !caps.includes('SASL PLAIN'), `CAPA must not invite cleartext login: ${caps}`);
    assert.equal(await c.cmd(`USER ${acc.address}`), '-ERR [AUTH] plaintext authentication is not allowed here; use STLS first');
    assert.match(await c.cmd('AUTH PLAIN'), /^-ERR \[AUTH\] /);
    assert.match(await c.cmd('STLS'), /^\+OK/);
    await c.startTls();
    await c.cmd('CAPA');
    const after = await c.body();
    assert.ok(after.includes('USER') && after.includes('SASL PLAIN') && !after.includes('STLS'));
    await c.login(acc.address, PASSWORD);
    assert.equal(await c.cmd('STAT'), '+OK 0 0');
    await c.cmd('QUIT');

    const { port: sport } = await fx.server('implicit', { allowPlaintextAuth: 'never' });
    const r = await poplib(sport, 'implicit', acc.address, PASSWORD, [['stat'], ['quit']]);
    assert.deepEqual(r.results[0], [0, 0]);
  });

  test('allowPlaintextAuth loopback: refused from a non-loopback address', async (t) => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return t.skip('no non-loopback IPv4 interface on this host');
    const { port } = await fx.server('starttls', { allowPlaintextAuth: 'loopback' }, { host: external.address });
    const raw = await RawPop3Client.connect(port, { host: external.address });
    await raw.line();
    assert.match(await raw.cmd('USER someone@test.local'), /^-ERR \[AUTH\] plaintext authentication is not allowed/);
    await raw.cmd('QUIT');
  });

  test('a message whose content cannot be read answers [SYS/TEMP]; the session goes on', async () => {
    const acc = await fx.account();
    await fx.deliver(acc, 'Subject: lost\r\n\r\nblob will vanish\r\n');
    await fx.deliver(acc, SIMPLE);
    const [lost] = await fx.mailboxes.list(acc.id);
    await fx.ts.store.blobs.delete(lost!.blobHash);
    const c = await RawPop3Client.connect(fx.plainPort);
    await c.line();
    await c.login(acc.address, PASSWORD);
    assert.equal(await c.cmd('RETR 1'), '-ERR [SYS/TEMP] cannot read message 1 now, try again later');
    assert.equal(await c.cmd('RETR 2'), `+OK ${SIMPLE.length} octets`);
    assert.equal((await c.body()).join('\r\n') + '\r\n', SIMPLE);
    await c.cmd('QUIT');
  });

  test('metrics count sessions, logins and retrievals', async () => {
    const acc = await fx.account();
    await fx.deliver(acc, SIMPLE);
    // Its own listener label, so the other tests running alongside do not change the counts.
    const { port } = await fx.server('starttls', {}, { name: 'metered' });
    const listener = 'metered';
    await poplib(port, 'plain', acc.address, PASSWORD, [['retr', 1], ['retr', 1], ['quit']]);
    const bad = await RawPop3Client.connect(port);
    await bad.line();
    await bad.cmd(`USER ${acc.address}`);
    assert.match(await bad.cmd('PASS not the password'), /^-ERR \[AUTH\]/);
    await bad.cmd('QUIT');
    assert.equal(fx.metrics.value('postamt_pop3_connections_total', { listener }), 2);
    assert.equal(fx.metrics.value('postamt_pop3_logins_total', { listener, result: 'ok' }), 1);
    assert.equal(fx.metrics.value('postamt_pop3_logins_total', { listener, result: 'failed' }), 1);
    assert.equal(fx.metrics.value('postamt_pop3_messages_retrieved_total', { listener }), 2);
    assert.match(fx.metrics.render(), /postamt_pop3_connections_active\{listener="metered"\} \d/);
  });

  test('graceful close: idle sessions are told, nothing is deleted, new connections refused', async () => {
    const acc = await fx.account();
    await fx.deliver(acc, SIMPLE);
    const { server, port } = await fx.server('starttls', {});
    const c = await RawPop3Client.connect(port);
    await c.line();
    await c.login(acc.address, PASSWORD);
    await c.cmd('DELE 1');
    const released = fx.backend.released(acc.address);
    await server.close(5_000);
    assert.equal(await c.rest(), '-ERR [SYS/TEMP] server shutting down\r\n');
    await released;
    assert.equal((await fx.uids(acc)).length, 1);
    await assert.rejects(RawPop3Client.connect(port), /ECONNREFUSED/);
  });

  test('graceful close: a session stuck in a command is cut off after the grace time', async () => {
    const { server, port } = await fx.server('starttls', {});
    const releaseGate = fx.backend.hold('stuck@test.local');
    try {
      const c = await RawPop3Client.connect(port);
      await c.line();
      const loginSeen = once(fx.backend, 'login');
      c.write('USER stuck@test.local\r\nPASS whatever\r\n');
      assert.equal(await c.line(), '+OK send PASS');
      await loginSeen;
      const started = Date.now();
      const closing = server.close(100);
      await c.waitClosed();
      assert.ok(Date.now() - started >= 90, 'the busy session had its grace time');
      releaseGate();
      await closing;
      // The released login (a real scrypt check, slow on a loaded machine) may still be running:
      // a second close waits for the session to end instead of racing it.
      await server.close(30_000);
      assert.equal(server.sessionCount, 0);
    } finally {
      releaseGate();
    }
  });
});

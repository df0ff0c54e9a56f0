import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SHA_CRYPT_MAX_ROUNDS, UnverifiableHashError, shaCrypt, verifyHash, verifyShaCrypt } from '../../../src/integration/index.js';
import { createLogger } from '../../../src/core/index.js';
import { RawPop3Client, RawSmtpClient } from '../../helpers/net.js';
import { startIntegrationService, addCheapAccounts, post } from '../../helpers/integration.js';

// SHA-crypt ($5$/$6$) hashes from a user source: checked on worker threads, and refused
// unchecked — logged, answered as a temporary failure — when they ask for more rounds than the cap.

const PASSWORD = 'Passw0rd';
const over = (prefix: '$5$' | '$6$', rounds = SHA_CRYPT_MAX_ROUNDS + 1) => `${prefix}rounds=${rounds}$salt$${'a'.repeat(prefix === '$5$' ? 43 : 86)}`;

test('a check runs on a worker thread: the event loop keeps turning while it computes', async () => {
  const started = performance.now();
  const hash = shaCrypt(PASSWORD, '$6$rounds=100000$eventloop');
  const syncMs = performance.now() - started;
  assert.equal(await verifyHash(PASSWORD, hash), true, 'also starts the threads');
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const answers = await Promise.all([verifyHash(PASSWORD, hash), verifyHash('wrong', hash), verifyHash(PASSWORD, hash.replace('$6$', '$5$'))]);
  delay.disable();
  assert.deepEqual(answers, [true, false, false]);
  const maxMs = delay.max / 1e6;
  assert.ok(maxMs < syncMs / 2, `the loop stalled ${maxMs.toFixed(0)} ms during checks that take ${syncMs.toFixed(0)} ms each`);
});

test(`above ${SHA_CRYPT_MAX_ROUNDS} rounds a hash is refused unchecked, as unverifiable (not as a wrong password)`, async () => {
  for (const prefix of ['$5$', '$6$'] as const) {
    await assert.rejects(verifyHash(PASSWORD, over(prefix)), (err: unknown) => {
      assert.ok(err instanceof UnverifiableHashError);
      assert.equal(err.rounds, SHA_CRYPT_MAX_ROUNDS + 1);
      assert.match(err.message, /^a SHA-crypt hash asks for 1000001 rounds, more than the 1000000 this server computes/);
      return true;
    });
    assert.equal(verifyShaCrypt(PASSWORD, over(prefix)), false, 'the synchronous check refuses it too');
  }
  await assert.rejects(verifyHash(PASSWORD, over('$6$', 999_999_999)), UnverifiableHashError);
  // Malformed hashes are still plain mismatches.
  for (const bad of ['$6$rounds=5000$salt$short', '$6$', '$5$rounds=x$salt$' + 'a'.repeat(43)]) assert.equal(await verifyHash(PASSWORD, bad), false, bad);
});

test('own authentication against such a hash: POP3, SMTP AUTH and cmd=auth answer a temporary failure, and each logs why', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const alice = 'alice@example.test';
  const bob = 'bob@example.test';
  const it = await startIntegrationService({ authSource: 'users', sources: [{ name: 'users', type: 'file', path: 'users.csv' }] }, {}, createLogger('info', sink));
  try {
    await addCheapAccounts(it.svc, [{ address: alice }, { address: bob }]);
    writeFileSync(join(it.dir, 'users.csv'), `userName,password\n${alice},${shaCrypt(PASSWORD, '$6$alice')}\n${bob},${over('$6$')}\n`);
    const logged = (msg: string) => lines.map((l) => JSON.parse(l) as { msg: string; err?: unknown }).filter((l) => l.msg === msg && /1000001 rounds/.test(JSON.stringify(l.err)));

    const ok = await post(it.url, `cmd=auth&user=${encodeURIComponent(alice)}&pass=${PASSWORD}`);
    assert.deepEqual([ok.status, JSON.parse(ok.text)], [200, { succeeded: true }]);
    const refused = await post(it.url, `cmd=auth&user=${encodeURIComponent(bob)}&pass=${PASSWORD}`);
    assert.equal(refused.status, 503);
    assert.equal(logged('integration auth failed').length, 1);

    const c = await RawPop3Client.connect(it.svc.endpoints.pop3!.port);
    try {
      assert.match(await c.line(), /^\+OK/);
      assert.match(await c.cmd(`USER ${bob}`), /^\+OK/);
      assert.match(await c.cmd(`PASS ${PASSWORD}`), /^-ERR \[SYS\/TEMP\]/);
    } finally {
      c.close();
    }
    assert.equal(logged('pop3 backend login failed').length, 1);

    const s = await RawSmtpClient.connect(it.svc.endpoints['smtp-submission']!.port, { tls: true });
    try {
      await s.readReply();
      await s.cmd('EHLO client.test');
      const plain = (user: string) => Buffer.from(`\0${user}\0${PASSWORD}`).toString('base64');
      assert.equal((await s.cmd(`AUTH PLAIN ${plain(bob)}`)).code, 454);
      assert.equal((await s.cmd(`AUTH PLAIN ${plain(alice)}`)).code, 235, 'a hash within the cap, checked on a thread');
    } finally {
      s.close();
    }
    assert.equal(logged('smtp auth backend failed').length, 1);
  } finally {
    await it.close();
  }
});

test('SHA-crypt: the test vectors of the specification ($5$, $6$, rounds, long salt, too few rounds)', () => {
  const vectors: Array<[string, string]> = [
    ['Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
    ['Hello world!', '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'],
    ['This is just a test', '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5'],
    ['the minimum number is still observed', '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC'],
    ['Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
    ['Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
    ['a very much longer text to encrypt.  This one even stretches over morethan one line.', '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1'],
    ['we have a short salt string but not a short password', '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
    ['the minimum number is still observed', '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
  ];
  for (const [pw, hash] of vectors) {
    assert.ok(verifyShaCrypt(pw, hash), hash);
    assert.equal(verifyShaCrypt(pw + '.', hash), false);
  }
  // rounds below the minimum are raised to 1000, as the spec says
  assert.equal(shaCrypt('the minimum number is still observed', '$5$rounds=10$roundstoolow'), vectors[3]![1]);
  // too many rounds for a foreign hash: refused rather than computed
  assert.equal(verifyShaCrypt('x', '$6$rounds=999999999$salt$' + 'a'.repeat(86)), false);
});

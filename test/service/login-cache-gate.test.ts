import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, type RunningService } from '../../src/roles/service.js';
import { Accounts } from '../../src/service/index.js';
import { silentLogger } from '../../src/core/index.js';
import { RawPop3Client, RawSmtpClient } from '../helpers/net.js';
import { STORE_KINDS, tempDir, testConfig, testDatabase } from '../helpers/env.js';
import { until } from '../helpers/wait.js';

// Login-cache hits pass the per-address login gate (issue 20 follow-up): 16 parallel logins
// from one address with the default throttle (one check at a time, four waiting) all succeed
// once the password is cached; wrong passwords, penalised addresses and disabled accounts
// still get the gate or the refusal. Each scenario has a client address of its own.

const PASSWORD = 'the right password 20';
const PARALLEL = 16;

const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');

async function smtpReady(port: number, localAddress: string): Promise<RawSmtpClient> {
  const c = await RawSmtpClient.connect(port, { tls: true, localAddress });
  assert.equal((await c.readReply()).code, 220);
  assert.equal((await c.cmd('EHLO client.test')).code, 250);
  return c;
}

async function pop3Ready(port: number, localAddress: string): Promise<RawPop3Client> {
  const c = await RawPop3Client.connect(port, { tls: true, localAddress });
  assert.match(await c.line(), /^\+OK/);
  return c;
}

/** Opens `n` sessions first, then sends every login at once: they reach the gate together. */
async function parallel<C extends { close(): void }>(n: number, open: () => Promise<C>, login: (c: C) => Promise<string>): Promise<string[]> {
  const clients = await Promise.all(Array.from({ length: n }, open));
  try {
    return await Promise.all(clients.map(login));
  } finally {
    for (const c of clients) c.close();
  }
}

for (const kind of STORE_KINDS) {
  describe(`login-cache hits and the per-address gate on ${kind}`, () => {
    let svc: RunningService | undefined;
    let dir: ReturnType<typeof tempDir>;
    let drop: (() => Promise<void>) | undefined;
    let smtp = 0;
    let pop3 = 0;
    let freeFailures = 0;

    before(async () => {
      const db = await testDatabase(kind);
      if (!db) return;
      drop = db.drop;
      dir = tempDir();
      // Default loginThrottle concurrency (1 check and 4 waiting per address); a short penalty keeps the run short.
      const config = testConfig(dir.path, { database: { url: db.url }, service: { loginThrottle: { baseDelayMs: 1000 } } });
      freeFailures = config.service.loginThrottle.freeFailures;
      svc = await startService(config, silentLogger());
      await svc.accounts.addDomain('test.local');
      for (const a of ['alice', 'bob', 'carol', 'dave']) await svc.accounts.add({ address: `${a}@test.local`, password: PASSWORD });
      smtp = svc.endpoints['smtp-submission']!.port;
      pop3 = svc.endpoints.pop3s!.port;
    });
    after(async () => {
      await svc?.close();
      await drop?.();
      dir?.cleanup();
    });

    test(`${PARALLEL} parallel SMTP AUTH logins from one address after a warm-up: all succeed`, async (t) => {
      if (!svc) return t.skip('PostgreSQL tests skipped');
      const from = '127.0.0.1';
      const warm = await smtpReady(smtp, from);
      assert.equal((await warm.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`)).code, 235);
      warm.close();
      const hits = svc.metrics.value('postamt_login_cache_total', { result: 'hit' });
      // Another account's first login from the same address (a miss: a full scrypt) holds the
      // address's one check while the hits arrive, as on a practice's shared address.
      const miss = await smtpReady(smtp, from);
      const missAnswer = miss.cmd(`AUTH PLAIN ${plain('carol@test.local', PASSWORD)}`);
      const answers = await parallel(PARALLEL, () => smtpReady(smtp, from), async (c) => (await c.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`)).text);
      assert.deepEqual(answers.filter((a) => !a.startsWith('235')), [], 'every SMTP AUTH succeeded');
      assert.equal((await missAnswer).code, 235);
      miss.close();
      assert.equal(svc.metrics.value('postamt_login_cache_total', { result: 'hit' }) - hits, PARALLEL, 'each was a cache hit');
    });

    test(`${PARALLEL} parallel POP3 logins from one address after a warm-up: all succeed`, async (t) => {
      if (!svc) return t.skip('PostgreSQL tests skipped');
      const from = '127.0.0.6';
      const warm = await pop3Ready(pop3, from);
      assert.match(await warm.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`), /^\+OK/);
      warm.close();
      const hits = svc.metrics.value('postamt_login_cache_total', { result: 'hit' });
      const ok = svc.metrics.value('postamt_pop3_logins_total', { listener: 'pop3s', result: 'ok' });
      const miss = await pop3Ready(pop3, from);
      const missAnswer = miss.cmd(`AUTH PLAIN ${plain('dave@test.local', PASSWORD)}`);
      const answers = await parallel(PARALLEL, () => pop3Ready(pop3, from), async (c) => c.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`));
      assert.deepEqual(answers.filter((a) => !a.startsWith('+OK')), [], 'every POP3 login succeeded');
      assert.match(await missAnswer, /^\+OK/);
      miss.close();
      assert.equal(svc.metrics.value('postamt_login_cache_total', { result: 'hit' }) - hits, PARALLEL, 'each was a cache hit');
      assert.equal(svc.metrics.value('postamt_pop3_logins_total', { listener: 'pop3s', result: 'ok' }) - ok, PARALLEL + 1, 'counted as logins as before');
    });

    test('wrong passwords in parallel still meet the gate and never succeed', async (t) => {
      if (!svc) return t.skip('PostgreSQL tests skipped');
      const from = '127.0.0.2';
      const warm = await smtpReady(smtp, from);
      assert.equal((await warm.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`)).code, 235, 'the right password is cached');
      warm.close();
      const smtpAnswers = await parallel(PARALLEL, () => smtpReady(smtp, from), async (c) => (await c.cmd(`AUTH PLAIN ${plain('alice@test.local', 'a wrong password')}`)).text);
      assert.deepEqual(smtpAnswers.filter((a) => !/^(535|454) /.test(a)), [], 'no wrong SMTP password succeeded');
      assert.ok(smtpAnswers.some((a) => a.includes('Too many logins at once')), `the gate turned some away: ${smtpAnswers.join(' | ')}`);
      const popAnswers = await parallel(PARALLEL, () => pop3Ready(pop3, '127.0.0.4'), async (c) => c.cmd(`AUTH PLAIN ${plain('alice@test.local', 'a wrong password')}`));
      assert.deepEqual(popAnswers.filter((a) => !a.startsWith('-ERR')), [], 'no wrong POP3 password succeeded');
      assert.ok(popAnswers.some((a) => a.includes('too many logins at once')), `the gate turned some away: ${popAnswers.join(' | ')}`);
    });

    test('a penalised address gets the penalty even with the right cached password', async (t) => {
      if (!svc) return t.skip('PostgreSQL tests skipped');
      const s = svc;
      const from = '127.0.0.3';
      const warm = await smtpReady(smtp, from);
      assert.equal((await warm.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`)).code, 235, 'the right password is cached');
      warm.close();
      // The free failures, then one more whose answer waits out the penalty it earned.
      for (let i = 0; i < freeFailures; i++) {
        const c = await smtpReady(smtp, from);
        assert.equal((await c.cmd(`AUTH PLAIN ${plain('alice@test.local', `wrong ${i}`)}`)).code, 535);
        c.close();
      }
      const failing = await smtpReady(smtp, from);
      const failed = failing.cmd(`AUTH PLAIN ${plain('alice@test.local', 'wrong again')}`);
      await until('the address is penalised', () => s.throttle.isPenalised(from));
      // Both while the penalty lasts (each answer waits it out).
      const [right, popRight] = await Promise.all([smtpReady(smtp, from), pop3Ready(pop3, from)]);
      assert.ok(s.throttle.isPenalised(from), 'still penalised when the right password is sent');
      const [smtpAnswer, popAnswer] = await Promise.all([right.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`), popRight.cmd(`AUTH PLAIN ${plain('alice@test.local', PASSWORD)}`)]);
      assert.equal(smtpAnswer.text, '454 4.7.0 Too many failed logins from your address, try again later');
      assert.match(popAnswer, /^-ERR \[SYS\/TEMP\] too many failed logins/);
      assert.equal((await failed).code, 535);
      for (const c of [failing, right, popRight]) c.close();
    });

    test('a disabled account with a cached entry is refused', async (t) => {
      if (!svc) return t.skip('PostgreSQL tests skipped');
      const from = '127.0.0.5';
      const warm = await smtpReady(smtp, from);
      assert.equal((await warm.cmd(`AUTH PLAIN ${plain('bob@test.local', PASSWORD)}`)).code, 235);
      warm.close();
      // Disabled by another process (the CLI): this one's cache still holds bob's entry.
      await new Accounts(svc.store.db, svc.store.blobs).setDisabled('bob@test.local', true);
      const c = await smtpReady(smtp, from);
      assert.equal((await c.cmd(`AUTH PLAIN ${plain('bob@test.local', PASSWORD)}`)).code, 535);
      c.close();
      const p = await pop3Ready(pop3, from);
      assert.match(await p.cmd(`AUTH PLAIN ${plain('bob@test.local', PASSWORD)}`), /^-ERR \[AUTH\]/);
      p.close();
    });
  });
}

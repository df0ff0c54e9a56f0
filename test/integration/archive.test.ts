import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { RawPop3Client, RawSmtpClient } from '../helpers/net.js';
import { startIntegrationService, addCheapAccounts, type IntegrationService } from '../helpers/integration.js';
import { encodeSaslPlain } from '../../src/wire/index.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const ARCHIVE = 'archiv@example.test';
const JOURNAL = 'journal@example.test';

async function sendMail(it: IntegrationService, to: string[], subject: string): Promise<string> {
  const c = await RawSmtpClient.connect(it.svc.endpoints['smtp-mx']!.port);
  try {
    await c.readReply();
    assert.equal((await c.cmd('EHLO client.test')).code, 250);
    assert.equal((await c.cmd('MAIL FROM:<sender@elsewhere.test>')).code, 250);
    for (const r of to) assert.equal((await c.cmd(`RCPT TO:<${r}>`)).code, 250);
    assert.equal((await c.cmd('DATA')).code, 354);
    const r = await c.cmd(`From: sender@elsewhere.test\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\n\r\nHallo.\r\n.`);
    await c.cmd('QUIT');
    return `${r.code} ${r.text}`;
  } finally {
    c.close();
  }
}

function plain(authzid: string, authcid: string, password: string): string {
  return encodeSaslPlain({ authzid, authcid, password });
}

async function pop3(it: IntegrationService): Promise<RawPop3Client> {
  const c = await RawPop3Client.connect(it.svc.endpoints.pop3!.port);
  assert.match(await c.line(), /^\+OK/);
  return c;
}

test('archive user: SASL PLAIN with another account as authorization identity reads that mailbox; nobody else may', async () => {
  const it = await startIntegrationService({ archiveUser: ARCHIVE, journalAddress: JOURNAL });
  try {
    await addCheapAccounts(it.svc, [{ address: ALICE }, { address: BOB }, { address: ARCHIVE }, { address: JOURNAL }]);
    assert.match(await sendMail(it, [ALICE], 'fuer alice'), /^250 /);
    assert.match(await sendMail(it, [ALICE, BOB], 'fuer beide'), /^250 /);

    const c = await pop3(it);
    assert.match(await c.cmd(`AUTH PLAIN ${plain(ALICE, ARCHIVE, 'Passw0rd!')}`), /^\+OK/);
    assert.match(await c.cmd('STAT'), /^\+OK 2 /);
    assert.match(await c.cmd('RETR 1'), /^\+OK/);
    assert.ok((await c.body()).includes('Subject: fuer alice'));
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    c.close();

    // The archive user without authzid (or with its own) reads its own, empty, mailbox.
    const own = await pop3(it);
    assert.match(await own.cmd(`AUTH PLAIN ${plain('', ARCHIVE, 'Passw0rd!')}`), /^\+OK/);
    assert.match(await own.cmd('STAT'), /^\+OK 0 /);
    own.close();

    for (const [authzid, authcid, pw, why] of [
      [ALICE, BOB, 'Passw0rd!', 'an ordinary account may not act for another'],
      [ALICE, ARCHIVE, 'wrong', 'the archive user with a wrong password'],
      ['nobody@example.test', ARCHIVE, 'Passw0rd!', 'a target that does not exist'],
      ['not an address', ARCHIVE, 'Passw0rd!', 'a target that is no address'],
    ] as const) {
      const x = await pop3(it);
      assert.match(await x.cmd(`AUTH PLAIN ${plain(authzid, authcid, pw)}`), /^-ERR/, why);
      x.close();
    }

    // Journal: every delivered message once, filed with the recipients' copies.
    const journal = await it.svc.accounts.get(JOURNAL);
    assert.equal((await it.svc.mailboxes.list(journal.id)).length, 2);
    const j = await pop3(it);
    assert.match(await j.cmd(`AUTH PLAIN ${plain('', JOURNAL, 'Passw0rd!')}`), /^\+OK/);
    assert.match(await j.cmd('RETR 2'), /^\+OK/);
    assert.ok((await j.body()).includes('Subject: fuer beide'));
    j.close();
    // Mail to the journal itself is not filed twice.
    assert.match(await sendMail(it, [JOURNAL], 'direkt'), /^250 /);
    assert.equal((await it.svc.mailboxes.list(journal.id)).length, 3);

    // Without its account the journal would have gaps: mail is deferred (4.3.0) instead.
    await it.svc.accounts.remove(JOURNAL);
    assert.match(await sendMail(it, [ALICE], 'ohne journal').catch((e: Error) => e.message), /451/);
  } finally {
    await it.close();
  }
});

test('without archiveUser, an authorization identity other than oneself is refused for everyone', async () => {
  const it = await startIntegrationService({});
  try {
    await addCheapAccounts(it.svc, [{ address: ALICE }, { address: ARCHIVE }]);
    const c = await pop3(it);
    assert.match(await c.cmd(`AUTH PLAIN ${plain(ALICE, ARCHIVE, 'Passw0rd!')}`), /^-ERR/);
    assert.match(await c.cmd(`AUTH PLAIN ${plain(ALICE, ALICE, 'Passw0rd!')}`), /^\+OK/);
    c.close();
  } finally {
    await it.close();
  }
});

test('own authentication: POP3 and SMTP AUTH logins are checked against the configured source, the account must exist locally', async () => {
  const it = await startIntegrationService({
    authSource: 'users',
    sources: [{ name: 'users', type: 'file', path: 'users.csv' }],
  });
  try {
    await addCheapAccounts(it.svc, [{ address: ALICE }, { address: BOB }]);
    const hash = await bcrypt.hash('from-the-user-db', 4);
    writeFileSync(join(it.dir, 'users.csv'), `userName,password\n${ALICE},${hash}\nghost@example.test,${hash}\n`);

    const ok = await pop3(it);
    await ok.login(ALICE, 'from-the-user-db');
    ok.close();
    for (const [user, pw, why] of [
      [ALICE, 'Passw0rd!', 'the local password no longer counts'],
      [BOB, 'Passw0rd!', 'bob is not in the source'],
      ['ghost@example.test', 'from-the-user-db', 'the source knows ghost, but there is no mailbox'],
    ] as const) {
      const c = await pop3(it);
      assert.match(await c.cmd(`USER ${user}`), /^\+OK/);
      assert.match(await c.cmd(`PASS ${pw}`), /^-ERR/, why);
      c.close();
    }

    const s = await RawSmtpClient.connect(it.svc.endpoints['smtp-submission']!.port, { tls: true });
    try {
      await s.readReply();
      await s.cmd('EHLO client.test');
      assert.equal((await s.cmd(`AUTH PLAIN ${plain('', ALICE, 'Passw0rd!')}`)).code, 535);
      assert.equal((await s.cmd(`AUTH PLAIN ${plain('', ALICE, 'from-the-user-db')}`)).code, 235);
    } finally {
      s.close();
    }
  } finally {
    await it.close();
  }
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { python } from '../helpers/process.js';
import { startSmtpFixture, mailbox, PASSWORD, type SmtpFixture } from '../helpers/smtp-fixture.js';
import { STORE_KINDS } from '../helpers/env.js';

// Python's smtplib (a client we did not write) sends one message and says what became of it:
// "ok", or the SMTP code and text of the refusal.
const SEND = String.raw`
import smtplib, ssl, sys, json
a = json.loads(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    if a['mode'] == 'submission':
        s = smtplib.SMTP_SSL('127.0.0.1', a['port'], context=ctx, timeout=20)
        s.login(a['user'], a['password'])
    else:
        s = smtplib.SMTP('127.0.0.1', a['port'], timeout=20)
        s.ehlo('python.client.test')
    refused = s.sendmail(a['from'], a['to'], a['msg'].encode('utf-8'), rcpt_options=a.get('rcpt', []))
    s.quit()
    print(json.dumps({'result': 'ok', 'refused': {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
except smtplib.SMTPSenderRefused as e:
    print(json.dumps({'result': 'sender', 'code': e.smtp_code, 'text': e.smtp_error.decode()}))
except smtplib.SMTPDataError as e:
    print(json.dumps({'result': 'data', 'code': e.smtp_code, 'text': e.smtp_error.decode()}))
except smtplib.SMTPRecipientsRefused as e:
    print(json.dumps({'result': 'recipients', 'refused': {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}}))
`;

interface SendResult {
  result: 'ok' | 'sender' | 'data' | 'recipients';
  code?: number;
  text?: string;
}

function message(headers: Record<string, string>, body = 'Hallo\r\n'): string {
  return Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n' + body;
}

let counter = 0;
function msgId(): string {
  return `<m${++counter}.${Date.now()}@smtplib.test>`;
}

// PostgreSQL as well (the autoreply's once-per-sender claim is one upsert in either dialect), unless skipped.
for (const kind of STORE_KINDS.filter((k) => k === 'sqlite' || process.env.POSTAMT_TEST_SKIP_PG !== '1')) describe(`KIM mail rules on the service SMTP (issue 22 part 3, ${kind})`, () => {
  let f: SmtpFixture;
  let now = Date.parse('2026-06-15T10:00:00Z');
  const send = (a: { mode?: 'submission' | 'mx'; user?: string; from: string; to: string[]; msg: string; rcpt?: string[] }) =>
    python<SendResult>(SEND, [JSON.stringify({ mode: a.mode ?? 'submission', port: (a.mode === 'mx' ? f.mx : f.submission).port, user: a.user ?? a.from, password: PASSWORD, ...a })]);
  const inbox = async (address: string) => (await mailbox(f, address)).map((b) => b.toString('utf8'));

  before(async () => {
    f = (await startSmtpFixture(kind, {}, {}, { now: () => now, replyToSuffixes: ['.kim.telematik', '.kim.telematik-test'] }))!;
    await f.accounts.add({ address: 'carol@example.test', password: PASSWORD, displayName: 'Carol' });
    await f.accounts.add({ address: 'dave@example.test', password: PASSWORD, displayName: 'Dave' });
  });
  after(() => f.close());

  describe('NOTIFY=SUCCESS (RFC 3461, faq.adoc "Generierung von Zustellbestätigungen", KOM-LE-A_2147)', () => {
    test('a local delivery that asked for it: a success DSN to the sender, headers only, In-Reply-To the Message-ID', async () => {
      const id = msgId();
      const before = (await inbox('alice@example.test')).length;
      const r = await send({ from: 'alice@example.test', to: ['carol@example.test', 'dave@example.test'], msg: message({ From: 'alice@example.test', To: 'carol@example.test, dave@example.test', Subject: 'Befund', 'Message-ID': id }, 'SECRET BODY LINE\r\n'), rcpt: ['NOTIFY=SUCCESS,FAILURE'] });
      assert.equal(r.result, 'ok');
      const got = (await inbox('alice@example.test')).slice(before);
      assert.equal(got.length, 1, 'one DSN for both recipients');
      const d = got[0]!;
      assert.match(d, /^Return-Path: <>\r\n/);
      assert.match(d, /\r\nContent-Type: multipart\/report; report-type=delivery-status;/);
      assert.match(d, new RegExp(`\\r\\nIn-Reply-To: ${id.replace(/[.]/g, '\\.')}\\r\\n`));
      assert.match(d, /\r\nAuto-Submitted: auto-replied\r\n/);
      assert.match(d, /\r\nArrival-Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n/);
      for (const rcpt of ['carol@example.test', 'dave@example.test']) {
        assert.match(d, new RegExp(`Final-Recipient: rfc822; ${rcpt}\\r\\nAction: delivered\\r\\nStatus: 2\\.0\\.0`));
      }
      assert.match(d, /Content-Type: text\/rfc822-headers\r\n\r\nFrom: alice@example\.test\r\n/);
      assert.doesNotMatch(d, /SECRET BODY LINE/, 'HDRS only: never the body');
      // Both recipients got the message itself.
      assert.equal((await inbox('carol@example.test')).filter((m) => m.includes(id)).length, 1);
    });

    test('no NOTIFY, NOTIFY=FAILURE or NOTIFY=NEVER: no success DSN', async () => {
      const before = (await inbox('alice@example.test')).length;
      for (const rcpt of [[], ['NOTIFY=FAILURE'], ['NOTIFY=NEVER']]) {
        const r = await send({ from: 'alice@example.test', to: ['carol@example.test'], msg: message({ From: 'alice@example.test', To: 'carol@example.test', Subject: 'x', 'Message-ID': msgId() }), rcpt });
        assert.equal(r.result, 'ok');
      }
      assert.equal((await inbox('alice@example.test')).length, before, 'no DSN without NOTIFY=SUCCESS');
    });

    test('mail from another provider (MX) asking for SUCCESS: the DSN goes only to a sender this service can reach; a null sender gets none', async () => {
      const before = (await inbox('bob@example.test')).length;
      // bob is local here: the DSN goes to his mailbox even though the mail came in on MX.
      const r = await send({ mode: 'mx', from: 'bob@example.test', to: ['carol@example.test'], msg: message({ From: 'bob@example.test', To: 'carol@example.test', Subject: 'mx', 'Message-ID': msgId() }), rcpt: ['NOTIFY=SUCCESS'] });
      assert.equal(r.result, 'ok');
      assert.equal((await inbox('bob@example.test')).length, before + 1);
      const n = await send({ mode: 'mx', from: '', to: ['carol@example.test'], msg: message({ From: 'x@other.test', To: 'carol@example.test', Subject: 'null', 'Message-ID': msgId() }), rcpt: ['NOTIFY=SUCCESS'] });
      assert.equal(n.result, 'ok');
    });

    test('a bad NOTIFY value is a 501', async () => {
      const r = await send({ from: 'alice@example.test', to: ['carol@example.test'], msg: message({ From: 'alice@example.test' }), rcpt: ['NOTIFY=SOMETIMES'] });
      assert.equal(r.result, 'recipients');
      assert.equal((r as unknown as { refused: Record<string, [number, string]> }).refused['carol@example.test']![0], 501);
    });
  });

  describe('sender checks on submission (gemSpec_FD_KOMLE A_23421, A_23422)', () => {
    const base = { From: 'alice@example.test', To: 'carol@example.test', Subject: 's' };
    const submit = (headers: Record<string, string>, to = ['carol@example.test'], from = 'alice@example.test') =>
      send({ from, user: 'alice@example.test', to, msg: message({ ...headers, 'Message-ID': msgId() }) });

    test('A_23421: MAIL FROM other than the AUTH user is refused (553 5.7.1), before any data', async () => {
      const r = await submit(base, ['carol@example.test'], 'bob@example.test');
      assert.equal(r.result, 'sender');
      assert.equal(r.code, 553);
      assert.match(r.text!, /^5\.7\.1 /);
    });

    const refused: Array<[string, Record<string, string>, RegExp]> = [
      ['no From', { To: 'carol@example.test', Subject: 's' }, /no From address/],
      ['From another address', { ...base, From: 'Bob <bob@example.test>' }, /From <bob@example\.test> is not the sender/],
      ['several From, none the sender', { ...base, From: 'bob@example.test, carol@example.test', Sender: 'alice@example.test' }, /none of the From addresses/],
      ['Sender another address', { ...base, Sender: 'bob@example.test' }, /Sender is not the sender/],
      ['Reply-To outside KIM', { ...base, 'Reply-To': 'alice@gmail.example' }, /Reply-To <alice@gmail\.example> is not a KIM address/],
      ['one of two Reply-To outside KIM', { ...base, 'Reply-To': 'a@praxis.kim.telematik, b@evil.example' }, /Reply-To <b@evil\.example>/],
    ];
    for (const [what, headers, text] of refused) {
      test(`A_23422 (1): ${what} is refused with 550 5.7.1 after DATA, and nothing is filed`, async () => {
        const before = (await inbox('carol@example.test')).length;
        const r = await submit(headers);
        assert.equal(r.result, 'data', JSON.stringify(r));
        assert.equal(r.code, 550);
        assert.match(r.text!, /^5\.7\.1 Sender integrity \(A_23422\): /);
        assert.match(r.text!, text);
        assert.equal((await inbox('carol@example.test')).length, before);
      });
    }

    const passing: Array<[string, Record<string, string>]> = [
      ['From the sender, with a display name and other case', { ...base, From: '"Praxis Alice" <Alice@Example.Test>' }],
      ['several From with the sender among them and Sender the sender', { ...base, From: 'alice@example.test, bob@example.test', Sender: 'alice@example.test' }],
      ['Reply-To a KIM address (PU and RU/TU domains)', { ...base, 'Reply-To': 'team@praxis.kim.telematik, test@kv.kim.telematik-test' }],
      ['Reply-To an address of this service', { ...base, 'Reply-To': 'bob@example.test' }],
    ];
    for (const [what, headers] of passing) {
      test(`A_23422: ${what} passes`, async () => {
        const r = await submit(headers);
        assert.equal(r.result, 'ok', JSON.stringify(r));
      });
    }

    test('A_23422 (2): a message to oneself alone is never refused (forwarding "an sich selbst")', async () => {
      const r = await submit({ From: 'someone@elsewhere.example', Subject: 'fwd', 'Reply-To': 'x@gmail.example' }, ['alice@example.test']);
      assert.equal(r.result, 'ok', JSON.stringify(r));
      // With a second recipient the exception no longer holds.
      const two = await submit({ From: 'someone@elsewhere.example', Subject: 'fwd' }, ['alice@example.test', 'carol@example.test']);
      assert.equal(two.result, 'data');
      assert.equal(two.code, 550);
    });

    test('mail from other providers (MX) is not checked here: its own Fachdienst did', async () => {
      const r = await send({ mode: 'mx', from: 'x@other.example', to: ['carol@example.test'], msg: message({ From: 'y@other.example', To: 'carol@example.test', Subject: 'mx', 'Message-ID': msgId() }) });
      assert.equal(r.result, 'ok', JSON.stringify(r));
    });
  });

  describe('out-of-office autoreply (updateOutOfOffice note, RFC 3834)', () => {
    const setNote = (address: string, note: object | null) =>
      f.ts.store.db.updateTable('accounts').set({ kim_out_of_office: note ? JSON.stringify(note) : null }).where('address', '=', address).execute();
    const replies = async (address: string) => (await inbox(address)).filter((m) => /\r\nAuto-Submitted: auto-replied\r\n/.test(m) && !m.includes('report-type=delivery-status'));
    const note = { active: true, startDate: '2026-06-01T00:00:00Z', endDate: '2026-06-30T23:59:59Z', message: 'Praxis geschlossen bis 30. Juni.\nVertretung: Dr. Müller' };

    before(() => setNote('dave@example.test', note));

    test('an active note answers the sender once: from the account, Auto-Submitted, In-Reply-To, the note as plain text', async () => {
      const id = msgId();
      const r = await send({ from: 'carol@example.test', to: ['dave@example.test'], msg: message({ From: 'carol@example.test', To: 'dave@example.test', Subject: 'Überweisung', 'Message-ID': id }) });
      assert.equal(r.result, 'ok');
      const got = await replies('carol@example.test');
      assert.equal(got.length, 1);
      const a = got[0]!;
      assert.match(a, /^Return-Path: <>\r\n/, 'null sender: nothing answers an autoreply');
      assert.match(a, /\r\nFrom: <dave@example\.test>\r\n/);
      assert.match(a, /\r\nTo: <carol@example\.test>\r\n/);
      assert.match(a, /\r\nSubject: Auto: =\?utf-8\?B\?[A-Za-z0-9+/=]+\?=\r\n/);
      assert.ok(a.includes(`\r\nIn-Reply-To: ${id}\r\n`));
      assert.match(a, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
      assert.ok(a.includes('\r\n\r\nPraxis geschlossen bis 30. Juni.\r\nVertretung: Dr. Müller\r\n'));
      // The original was delivered as ever.
      assert.equal((await inbox('dave@example.test')).filter((m) => m.includes(id)).length, 1);
    });

    test('the same sender again within intervalDays: no second answer; after it: answered again', async () => {
      const msg = () => message({ From: 'carol@example.test', To: 'dave@example.test', Subject: 'nochmal', 'Message-ID': msgId() });
      assert.equal((await send({ from: 'carol@example.test', to: ['dave@example.test'], msg: msg() })).result, 'ok');
      assert.equal((await replies('carol@example.test')).length, 1);
      now += 8 * 86_400_000;
      assert.equal((await send({ from: 'carol@example.test', to: ['dave@example.test'], msg: msg() })).result, 'ok');
      assert.equal((await replies('carol@example.test')).length, 2);
      now -= 8 * 86_400_000;
    });

    test('no answer to a null sender, automatic mail, bulk or list mail, machine addresses', async () => {
      await f.accounts.add({ address: 'mailer-daemon@example.test', password: PASSWORD, displayName: 'Daemon' });
      const before = (await replies('alice@example.test')).length;
      const cases: Array<Record<string, string>> = [
        { 'Auto-Submitted': 'auto-generated' },
        { 'Auto-Submitted': 'auto-replied' },
        { Precedence: 'bulk' },
        { Precedence: 'list' },
        { 'List-Id': '<aerzte.lists.example.test>' },
      ];
      for (const extra of cases) {
        const r = await send({ from: 'alice@example.test', to: ['dave@example.test'], msg: message({ From: 'alice@example.test', To: 'dave@example.test', Subject: 'auto', 'Message-ID': msgId(), ...extra }) });
        assert.equal(r.result, 'ok');
      }
      assert.equal((await replies('alice@example.test')).length, before, 'none answered');
      // The null sender and a machine address, over MX.
      const daemonBefore = (await inbox('mailer-daemon@example.test')).length;
      for (const from of ['', 'mailer-daemon@example.test']) {
        const r = await send({ mode: 'mx', from, to: ['dave@example.test'], msg: message({ From: 'x@example.test', To: 'dave@example.test', Subject: 'bounce', 'Message-ID': msgId() }) });
        assert.equal(r.result, 'ok');
      }
      assert.equal((await inbox('mailer-daemon@example.test')).length, daemonBefore);
      // Auto-Submitted: no is a person's mail: answered.
      const r = await send({ from: 'alice@example.test', to: ['dave@example.test'], msg: message({ From: 'alice@example.test', To: 'dave@example.test', Subject: 'person', 'Message-ID': msgId(), 'Auto-Submitted': 'no' }) });
      assert.equal(r.result, 'ok');
      assert.equal((await replies('alice@example.test')).length, before + 1);
    });

    test('an inactive note, or one outside its dates, answers nothing', async () => {
      const before = (await replies('bob@example.test')).length;
      for (const n of [{ ...note, active: false }, { ...note, startDate: '2026-07-01T00:00:00Z', endDate: '2026-07-31T00:00:00Z' }, { ...note, endDate: '2026-06-10T00:00:00Z' }, { active: false }]) {
        await setNote('dave@example.test', n);
        const r = await send({ from: 'bob@example.test', to: ['dave@example.test'], msg: message({ From: 'bob@example.test', To: 'dave@example.test', Subject: 'x', 'Message-ID': msgId() }) });
        assert.equal(r.result, 'ok');
      }
      assert.equal((await replies('bob@example.test')).length, before);
      await setNote('dave@example.test', note);
    });
  });
});

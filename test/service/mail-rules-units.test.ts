import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tapHeader, checkOriginators, noteActive, whyNoAutoreply, buildAutoreply, type TappedHeader } from '../../src/service/mail-rules/index.js';
import { mime } from '../../src/wire/index.js';

async function collect(chunks: string[]): Promise<{ out: string; header: TappedHeader | undefined; calls: number }> {
  let header: TappedHeader | undefined;
  let calls = 0;
  const parts: Buffer[] = [];
  async function* src() {
    for (const c of chunks) yield Buffer.from(c, 'latin1');
  }
  for await (const c of tapHeader(src(), (h) => {
    header = h;
    calls++;
  })) parts.push(c);
  return { out: Buffer.concat(parts).toString('latin1'), header, calls };
}

test('the header tap passes every byte on, and sees the header once however DATA was cut', async () => {
  const msg = 'From: a@x.test\r\nSubject: s\r\n\r\nbody\r\nmore\r\n';
  for (const cut of [1, 3, 7, 17, 30, msg.length]) {
    const chunks: string[] = [];
    for (let i = 0; i < msg.length; i += cut) chunks.push(msg.slice(i, i + cut));
    const r = await collect(chunks);
    assert.equal(r.out, msg);
    assert.equal(r.calls, 1);
    assert.equal(r.header!.bytes.toString('latin1'), 'From: a@x.test\r\nSubject: s\r\n\r\n');
    assert.deepEqual(r.header!.fields.map((f) => f.name), ['From', 'Subject']);
  }
  // No body at all, and no header at all.
  assert.equal((await collect(['From: a@x.test\r\n'])).header!.fields.length, 1);
  assert.deepEqual((await collect(['\r\nbody'])).header!.fields, []);
  // Garbage is no header: the rules see no fields (and A_23422 then finds no From).
  assert.deepEqual((await collect(['this is not a header line\r\n\r\n'])).header!.fields, []);
});

test('a refusal thrown at the header stops the stream before the rest is passed on', async () => {
  async function* src() {
    yield Buffer.from('From: a@x.test\r\n\r\n');
    yield Buffer.from('rest');
  }
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const c of tapHeader(src(), () => {
      throw new Error('refused');
    })) seen.push(c.toString());
  }, /refused/);
  assert.deepEqual(seen, []);
});

const fields = (h: string) => mime.readHeaderBlock(Buffer.from(h + '\r\n', 'latin1')).fields;

test('A_23422: groups, comments and case in From; Sender given twice', () => {
  const base = { mailFrom: 'Alice@Example.test', rcptTo: ['b@example.test'], replyToSuffixes: ['.kim.telematik'], localDomains: new Set<string>() };
  assert.equal(checkOriginators({ ...base, fields: fields('From: Praxis: "A" <alice@example.test>;\r\n') }), null);
  assert.equal(checkOriginators({ ...base, fields: fields('From: alice@example.test (Praxis A)\r\n') }), null);
  assert.equal(checkOriginators({ ...base, fields: fields('From: alice@example.test\r\nSender: alice@example.test\r\nSender: bob@example.test\r\n') })?.field, 'Sender');
  assert.equal(checkOriginators({ ...base, fields: fields('From: alice@example.test\r\nReply-To: x@a.kim.telematik\r\n') }), null);
  assert.equal(checkOriginators({ ...base, fields: fields('From: alice@example.test\r\nReply-To: x@kim.telematik.evil.example\r\n') })?.field, 'Reply-To');
});

test('the note is active only when active is true and now lies within its dates', () => {
  const now = Date.parse('2026-06-15T12:00:00Z');
  assert.equal(noteActive({ active: true, startDate: '2026-06-15T12:00:00Z', endDate: '2026-06-15T12:00:00Z' }, now), true);
  assert.equal(noteActive({ active: true, startDate: '2026-06-15T12:00:01Z', endDate: '2026-06-30T00:00:00Z' }, now), false);
  assert.equal(noteActive({ active: true, startDate: 'not a date', endDate: '2026-06-30T00:00:00Z' }, now), false);
  assert.equal(noteActive({ active: false }, now), false);
  assert.equal(noteActive(null, now), false);
});

test('RFC 3834: machine senders and automatic mail are not answered; a long note goes as base64', () => {
  for (const s of ['MAILER-DAEMON@x.test', 'postmaster@x.test', 'owner-aerzte@x.test', 'aerzte-request@x.test', 'noreply@x.test']) {
    assert.equal(whyNoAutoreply(s, 'me@x.test', []), 'machine address', s);
  }
  assert.equal(whyNoAutoreply('me@x.test', 'ME@x.test', []), 'own address');
  assert.equal(whyNoAutoreply('p@x.test', 'me@x.test', fields('Auto-Submitted: auto-generated; owner-email="a@b"\r\n')), 'auto-submitted');
  assert.equal(whyNoAutoreply('p@x.test', 'me@x.test', fields('List-Unsubscribe: <mailto:u@x.test>\r\n')), 'mailing list');
  assert.equal(whyNoAutoreply('p@x.test', 'me@x.test', fields('Precedence: junk\r\n')), 'bulk');
  assert.equal(whyNoAutoreply('p@x.test', 'me@x.test', fields('Subject: hi\r\n')), null);
  const long = buildAutoreply({ account: 'me@x.test', to: 'p@x.test', hostname: 'mx.x.test', note: { active: true, message: 'x'.repeat(2000) }, originalFields: [] });
  const text = long.toString('utf8');
  assert.match(text, /\r\nContent-Transfer-Encoding: base64\r\n/);
  assert.ok(text.split('\r\n').every((l) => l.length <= 998));
  assert.match(text, /\r\nSubject: Auto: Abwesenheitsnotiz\r\n/);
});
